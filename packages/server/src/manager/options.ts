import type { CapacityOptions } from '../capacity.js';
import { type AllowedOrigins, checkAllowedOrigins } from '../cross-origin.js';
import { ErrorCode, MorganError } from '../errors.js';
import type { EventLog } from '../events/event-log.js';
import { DEFAULT_MAX_METADATA_BYTES, DEFAULT_MAX_METADATA_DEPTH } from '../metadata.js';
import type { RateLimitPolicy } from '../rate-limit.js';
import type { Store } from '../store/store.js';
import { streamBudgetDefaults } from '../streams.js';

/**
 * Options of a `SessionManager`. `loadConfig` reads each number below from
 * the `MORGAN_*` variable named beside it, validated, as well as
 * `createRateLimit`, `requestRateLimit`, `allowedOrigins` (a list of
 * origins) and `capacity.mode`. Without a variable: `store` and `eventLog`
 * (objects; the demo picks Redis from `REDIS_URL`), `now` and an
 * `allowedOrigins` function (functions), and the `capacity` options other
 * than `mode`.
 */
export interface SessionManagerOptions {
  /** Idle time after which a session expires, in ms (`MORGAN_SESSION_TIMEOUT`, minutes). @default 3_600_000 (60 min) */
  sessionTimeoutMs?: number;
  /** Time between expiry sweeps, in ms (`MORGAN_CLEANUP_INTERVAL`, seconds). @default 300_000 (300 s) */
  cleanupIntervalMs?: number;
  /** Requests in flight on this node before new ones are shed (`MORGAN_MAX_CONCURRENT`). @default 100 */
  maxConcurrentRequests?: number;
  /**
   * Requests that may wait for a free slot, once `maxConcurrentRequests` are
   * in flight, instead of being shed at once (`MORGAN_MAX_QUEUED_REQUESTS`).
   * @default 0 (shed at once)
   */
  maxQueuedRequests?: number;
  /** Longest wait in that queue before a request is shed, in ms (`MORGAN_MAX_QUEUE_WAIT_MS`). @default 0 */
  maxQueueWaitMs?: number;
  /**
   * How many requests the node admits at once: `'static'` mode uses
   * `maxConcurrentRequests`; `{ mode: 'adaptive', minLimit, maxLimit, … }` a
   * limit that follows measured latency. Either way session control gets a
   * small headroom past the limit (`controlHeadroom`). Only `mode` has a
   * variable (`MORGAN_CAPACITY_MODE`). @default { mode: 'static' }
   */
  capacity?: CapacityOptions;
  /** Largest serialised metadata, in bytes (`MORGAN_MAX_METADATA_BYTES`). @default 16_384 */
  maxMetadataBytes?: number;
  /** Deepest nesting in metadata (`MORGAN_MAX_METADATA_DEPTH`); deeper answers 400 `INVALID_METADATA`. @default 16 */
  maxMetadataDepth?: number;
  /**
   * Sessions the store may hold (`MORGAN_MAX_SESSIONS`); past it `createSession`
   * answers 503 `SERVER_AT_CAPACITY` (a store full of live sessions). @default 1_000_000
   */
  maxSessions?: number;
  /**
   * Live sessions one user may have; creating one more ends the user's least
   * recently active session (its sockets close with 4404)
   * (`MORGAN_MAX_SESSIONS_PER_USER`). @default 100
   */
  maxSessionsPerUser?: number;
  /**
   * Streams (tRPC subscriptions over SSE) open at once on this node
   * (`MORGAN_MAX_STREAMS`). Streams never hold a request slot of
   * `maxConcurrentRequests`. @default 10_000
   */
  maxStreams?: number;
  /**
   * Streams one session may hold open at once on this node
   * (`MORGAN_MAX_STREAMS_PER_SESSION`); past it 429 `RATE_LIMITED`. @default 8
   */
  maxStreamsPerSession?: number;
  /**
   * Sessions `session.create` makes per client address (Express `req.ip`, so
   * `trust proxy` applies; the socket's address over WebSocket) in a fixed
   * window; past it 429 `RATE_LIMITED` with `Retry-After` and `RateLimit`
   * headers. Counted in the store when it can (Redis: across nodes). `false`
   * turns it off (`MORGAN_CREATE_RATE_LIMIT`, per minute, or `off`).
   * @default { limit: 60, windowMs: 60_000 }
   */
  createRateLimit?: RateLimitPolicy | false;
  /**
   * Requests one session may make (HTTP requests through `sessionMiddleware`
   * and calls over its WebSockets) in a fixed window; past it 429
   * `RATE_LIMITED` with `Retry-After` and `RateLimit` headers until the window
   * resets. Counted by the store in the same step that tracks the request
   * (Redis: across nodes, no extra round trip); a refusal is then remembered
   * on this node, so an abusive session costs no store call for the rest of
   * its window. `false` turns it off (`MORGAN_REQUEST_RATE_LIMIT`, per
   * minute, or `off`). @default { limit: 600, windowMs: 60_000 }
   */
  requestRateLimit?: RateLimitPolicy | false;
  /** Longest wait for in-flight requests in `stop()`, in ms (`MORGAN_DRAIN_TIMEOUT_MS`). @default 10_000 */
  drainTimeoutMs?: number;
  /**
   * How long the outcome of a mutation sent with an idempotency key (the
   * `Idempotency-Key` header, or `params.idempotencyKey` over WebSocket) is
   * kept in the store for its session, in ms: a repeat within it, on any
   * node, answers the first outcome instead of running again. Counted from
   * the call's start while it runs, and again from its end
   * (`MORGAN_IDEMPOTENCY_WINDOW_MS`). @default 300_000 (5 min)
   */
  idempotencyWindowMs?: number;
  /** Where sessions live. The manager owns it and closes it in `stop()`. @default new MemoryStore() */
  store?: Store;
  /**
   * Per-session event streams with a replay buffer (`session.events`). The
   * manager drops a session's stream when it ends and closes the log in
   * `stop()`. @default new MemoryEventLog() (100 events / 5 min per session)
   */
  eventLog?: EventLog;
  /**
   * Other origins whose browser pages may call this server: exact origins
   * (`https://app.example.com`, `MORGAN_ALLOWED_ORIGINS`) or a function
   * deciding. One setting for every transport: `sessionMiddleware` and
   * `trpcHandler` refuse an unsafe HTTP request (POST, PUT, …) that the
   * browser marks as cross-site with 403 `CROSS_SITE_REQUEST`, and
   * `attachWebSocket` refuses an upgrade from another origin with 403
   * `FORBIDDEN_ORIGIN`, unless it is listed here. Same-origin pages and
   * clients that send no `Origin` (servers, the SDK in Node) need no entry.
   * Each adapter may override it.
   * @default [] (no other origin)
   */
  allowedOrigins?: AllowedOrigins;
  /** Clock in epoch ms, for tests. @default Date.now */
  now?: () => number;
}

export const sessionManagerDefaults = {
  sessionTimeoutMs: 60 * 60 * 1000,
  cleanupIntervalMs: 300 * 1000,
  maxConcurrentRequests: 100,
  maxQueuedRequests: 0,
  maxQueueWaitMs: 0,
  maxMetadataBytes: DEFAULT_MAX_METADATA_BYTES,
  maxMetadataDepth: DEFAULT_MAX_METADATA_DEPTH,
  maxSessions: 1_000_000,
  maxSessionsPerUser: 100,
  maxStreams: streamBudgetDefaults.maxStreams,
  maxStreamsPerSession: streamBudgetDefaults.maxStreamsPerSession,
  createRateLimit: { limit: 60, windowMs: 60_000 },
  requestRateLimit: { limit: 600, windowMs: 60_000 },
  drainTimeoutMs: 10_000,
  idempotencyWindowMs: 5 * 60 * 1000,
  allowedOrigins: [],
} as const satisfies Omit<
  Required<SessionManagerOptions>,
  'store' | 'eventLog' | 'now' | 'createRateLimit' | 'requestRateLimit' | 'capacity'
> & { createRateLimit: RateLimitPolicy; requestRateLimit: RateLimitPolicy };

/** The options that are positive counts, checked the same way. */
type PositiveOption =
  | 'maxConcurrentRequests'
  | 'maxMetadataBytes'
  | 'maxMetadataDepth'
  | 'maxSessions'
  | 'maxSessionsPerUser'
  | 'maxStreams'
  | 'maxStreamsPerSession';

/**
 * Validates the plain options and applies their defaults, in a fixed order
 * (the first bad one is the one reported).
 *
 * @throws MorganError `INVALID_CONFIG` naming the option and the value.
 */
export function resolveSettings(options: SessionManagerOptions) {
  const sessionTimeoutMs = positive(
    'sessionTimeoutMs',
    options.sessionTimeoutMs ?? sessionManagerDefaults.sessionTimeoutMs,
  );
  const cleanupIntervalMs = positiveDelay(
    'cleanupIntervalMs',
    options.cleanupIntervalMs ?? sessionManagerDefaults.cleanupIntervalMs,
  );
  return {
    sessionTimeoutMs,
    cleanupIntervalMs,
    maxConcurrentRequests: positiveOption(options, 'maxConcurrentRequests'),
    maxMetadataBytes: positiveOption(options, 'maxMetadataBytes'),
    maxMetadataDepth: positiveOption(options, 'maxMetadataDepth'),
    maxSessions: positiveOption(options, 'maxSessions'),
    maxSessionsPerUser: positiveOption(options, 'maxSessionsPerUser'),
    drainTimeoutMs: timerDelay(
      'drainTimeoutMs',
      options.drainTimeoutMs ?? sessionManagerDefaults.drainTimeoutMs,
    ),
    idempotencyWindowMs: positiveDelay(
      'idempotencyWindowMs',
      options.idempotencyWindowMs ?? sessionManagerDefaults.idempotencyWindowMs,
    ),
    allowedOrigins: checkAllowedOrigins(
      options.allowedOrigins ?? sessionManagerDefaults.allowedOrigins,
    ),
    now: options.now ?? Date.now,
  };
}

/** The manager's plain settings: the options above, checked, defaults applied. */
export type ManagerSettings = Readonly<ReturnType<typeof resolveSettings>>;

/** A positive count option, or its default. */
export function positiveOption(options: SessionManagerOptions, name: PositiveOption): number {
  return positive(name, options[name] ?? sessionManagerDefaults[name]);
}

/** The policy of a rate-limit option, checked; undefined when it is off. */
export function rateLimitPolicy(
  name: string,
  policy: RateLimitPolicy | false,
): RateLimitPolicy | undefined {
  if (policy === false) return undefined;
  return {
    limit: positive(`${name}.limit`, policy.limit),
    windowMs: positive(`${name}.windowMs`, policy.windowMs),
  };
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new MorganError(
      ErrorCode.INVALID_CONFIG,
      `${name} must be a positive number, got ${value}`,
    );
  }
  return value;
}

/** Longest delay Node's timers honour; a longer one fires after 1 ms. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

function timerDelay(name: string, value: number): number {
  if (!(value >= 0 && value <= MAX_TIMER_DELAY_MS)) {
    throw new MorganError(
      ErrorCode.INVALID_CONFIG,
      `${name} must be from 0 to ${MAX_TIMER_DELAY_MS} ms, got ${value}`,
    );
  }
  return value;
}

function positiveDelay(name: string, value: number): number {
  return timerDelay(name, positive(name, value));
}
