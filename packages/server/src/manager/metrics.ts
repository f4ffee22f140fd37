import type { CapacityLimiter } from '../capacity.js';
import type { SessionAnnouncer } from './announcer.js';
import type { RequestTracker } from './request-tracking.js';
import type { Sweeper } from './sweeper.js';

/** Figures reported by `getMetrics()`. */
export interface SessionMetrics {
  activeSessions: number;
  totalSessionsCreated: number;
  totalSessionsExpired: number;
  /** Sessions removed by the periodic cleanup sweep. */
  totalSessionsCleaned: number;
  totalSessionsDeleted: number;
  sessionTimeoutMinutes: number;
  maxConcurrentRequests: number;
  /** Requests tracked on sessions of this node now. */
  activeRequests: number;
  /** Requests holding a capacity slot on this node now. */
  inFlightRequests: number;
  /** Requests app traffic may have in flight now: `maxConcurrentRequests`, or the adaptive limit. */
  capacityLimit: number;
  /** Requests shed with 503 since start. */
  totalRequestsShed: number;
}

/** Where the figures come from. */
export interface MetricsSources {
  /** Sessions created, expired and deleted by this node. */
  readonly announcer: SessionAnnouncer;
  /** Live sessions (after a sweep) and sessions cleaned up. */
  readonly sweeper: Sweeper;
  readonly requests: RequestTracker;
  readonly capacity: CapacityLimiter;
  readonly sessionTimeoutMs: number;
  readonly maxConcurrentRequests: number;
}

/** Reads the counters and gauges of one manager for health checks and Prometheus. */
export async function readMetrics(sources: MetricsSources): Promise<SessionMetrics> {
  const { announcer, sweeper, requests, capacity } = sources;
  // Swept first: the totals below include the sessions this sweep expired.
  const activeSessions = await sweeper.countLive();
  return {
    activeSessions,
    totalSessionsCreated: announcer.created,
    totalSessionsExpired: announcer.expired,
    totalSessionsCleaned: sweeper.cleaned,
    totalSessionsDeleted: announcer.deleted,
    sessionTimeoutMinutes: sources.sessionTimeoutMs / 60_000,
    maxConcurrentRequests: sources.maxConcurrentRequests,
    activeRequests: requests.active,
    inFlightRequests: capacity.inFlight,
    capacityLimit: capacity.limit,
    totalRequestsShed: capacity.shedCount,
  };
}
