import { type CapacityLimiter, createCapacityLimiter } from '../capacity.js';
import type { EventLog } from '../events/event-log.js';
import { MemoryEventLog } from '../events/memory-event-log.js';
import {
  type CapabilitiesInUse,
  type StoreFallback,
  storeCapabilities,
} from '../store/capabilities.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { StreamBudget } from '../streams.js';
import { SessionAdmission } from './admission.js';
import { SessionAnnouncer } from './announcer.js';
import type { ManagerEmitter } from './events.js';
import { Lifecycle } from './lifecycle.js';
import type { MetricsSources } from './metrics.js';
import {
  type ManagerSettings,
  positiveOption,
  rateLimitPolicy,
  type SessionManagerOptions,
  sessionManagerDefaults,
} from './options.js';
import { RequestTracker } from './request-tracking.js';
import { Sessions } from './sessions.js';
import { Sweeper } from './sweeper.js';

/** The parts a `SessionManager` is made of, each of one concern. */
export interface ManagerParts {
  readonly store: Store;
  /** Idempotency records: the store's, or this node's when it has none. */
  readonly idempotency: CapabilitiesInUse['idempotency'];
  /** Optional capabilities of the store this node runs on its own. */
  readonly storeFallbacks: readonly StoreFallback[];
  readonly events: EventLog;
  readonly capacity: CapacityLimiter;
  readonly streams: StreamBudget;
  readonly announcer: SessionAnnouncer;
  readonly sweeper: Sweeper;
  readonly admission: SessionAdmission;
  readonly requests: RequestTracker;
  readonly sessions: Sessions;
  readonly lifecycle: Lifecycle;
  readonly metrics: MetricsSources;
}

/**
 * Builds a manager's parts from its options (the plain ones already
 * `resolveSettings`) and tells the store and the event log their settings;
 * what the store lacks of its optional capabilities is filled on this node.
 * The rest of the options are checked here, in a fixed order.
 *
 * @throws MorganError `INVALID_CONFIG` for a bad option.
 */
export function buildParts(
  emitter: ManagerEmitter,
  options: SessionManagerOptions,
  settings: ManagerSettings,
): ManagerParts {
  const { now, sessionTimeoutMs, maxConcurrentRequests } = settings;
  const store = options.store ?? new MemoryStore();
  const requestPolicy = rateLimitPolicy(
    'requestRateLimit',
    options.requestRateLimit ?? sessionManagerDefaults.requestRateLimit,
  );
  store.configure({
    sessionTimeoutMs,
    requestWindowMs: requestPolicy?.windowMs,
    idempotencyWindowMs: settings.idempotencyWindowMs,
  });
  const capabilities = storeCapabilities(store, {
    idempotencyWindowMs: settings.idempotencyWindowMs,
  });
  const events: EventLog = options.eventLog ?? new MemoryEventLog();
  events.configure?.({ sessionTimeoutMs });
  const capacity = createCapacityLimiter(
    {
      maxConcurrent: maxConcurrentRequests,
      maxQueue: options.maxQueuedRequests ?? sessionManagerDefaults.maxQueuedRequests,
      maxQueueWaitMs: options.maxQueueWaitMs ?? sessionManagerDefaults.maxQueueWaitMs,
    },
    options.capacity,
  );
  const announcer = new SessionAnnouncer({ emitter, events, now });
  const sweeper = new Sweeper({ store, announcer, now, intervalMs: settings.cleanupIntervalMs });
  const admission = new SessionAdmission({
    store,
    rateLimiter: capabilities.rateLimiter,
    sweeper,
    now,
    createPolicy: options.createRateLimit ?? sessionManagerDefaults.createRateLimit,
    requestPolicy,
    maxSessions: settings.maxSessions,
    maxSessionsPerUser: settings.maxSessionsPerUser,
  });
  const streams = new StreamBudget({
    maxStreams: positiveOption(options, 'maxStreams'),
    maxStreamsPerSession: positiveOption(options, 'maxStreamsPerSession'),
  });
  const requests = new RequestTracker({ store, admission, announcer, now });
  const sessions = new Sessions({
    store,
    events,
    admission,
    announcer,
    now,
    maxMetadataBytes: settings.maxMetadataBytes,
    maxMetadataDepth: settings.maxMetadataDepth,
  });
  const lifecycle = new Lifecycle({
    store,
    storeFallbacks: capabilities.fallbacks,
    events,
    sweeper,
    announcer,
    requests,
  });
  const metrics = {
    announcer,
    sweeper,
    requests,
    capacity,
    sessionTimeoutMs,
    maxConcurrentRequests,
  };
  return {
    store,
    idempotency: capabilities.idempotency,
    storeFallbacks: capabilities.fallbacks,
    events,
    capacity,
    streams,
    announcer,
    sweeper,
    admission,
    requests,
    sessions,
    lifecycle,
    metrics,
  };
}
