import { EventEmitter } from 'node:events';
import type { CapacityLimiter } from './capacity.js';
import type { AllowedOrigins } from './cross-origin.js';
import type { EventLog, SessionEvent } from './events/event-log.js';
import type { SessionAdmission } from './manager/admission.js';
import type { SessionAnnouncer } from './manager/announcer.js';
import type { SessionManagerEvents } from './manager/events.js';
import type { Lifecycle } from './manager/lifecycle.js';
import { type MetricsSources, readMetrics, type SessionMetrics } from './manager/metrics.js';
import { resolveSettings, type SessionManagerOptions } from './manager/options.js';
import { buildParts } from './manager/parts.js';
import type { RequestTracker, TrackedRequest } from './manager/request-tracking.js';
import type { Sessions } from './manager/sessions.js';
import type { Sweeper } from './manager/sweeper.js';
import type { JsonObject, JsonValue } from './metadata.js';
import type { RateLimitDecision } from './rate-limit.js';
import type { CreateSessionInput, Session } from './session.js';
import type { CapabilitiesInUse, StoreFallback } from './store/capabilities.js';
import type { IdempotencyClaim, RotateChanges, Store } from './store/store.js';
import type { StreamBudget } from './streams.js';

export { CREATION_REFUSED } from './manager/admission.js';
export type {
  SessionEndedEvent,
  SessionManagerEvents,
  SessionRotatedEvent,
} from './manager/events.js';
export type { SessionMetrics } from './manager/metrics.js';
export { type SessionManagerOptions, sessionManagerDefaults } from './manager/options.js';
export type { TrackedRequest } from './manager/request-tracking.js';

/**
 * Creates, tracks, expires and isolates client sessions. Knows nothing about
 * transports: Express, tRPC and WebSocket adapters sit on top.
 *
 * A facade over the modules of `manager/`, one concern each: `options`,
 * `events` and their `announcer`, `sweeper`, `admission`, `sessions`,
 * `request-tracking`, `lifecycle` and `metrics`, built by `parts`. Each
 * method here is one call into one of them.
 *
 * @example
 * const manager = new SessionManager({ sessionTimeoutMs: 30 * 60_000 });
 * manager.start();
 * const session = await manager.createSession({ userId: 'u1' });
 * await manager.trackRequest(session.sessionId, async () => work());
 * await manager.stop();
 */
export class SessionManager extends EventEmitter<SessionManagerEvents> {
  readonly sessionTimeoutMs: number;
  readonly cleanupIntervalMs: number;
  readonly maxConcurrentRequests: number;
  readonly maxMetadataBytes: number;
  readonly maxMetadataDepth: number;
  readonly maxSessions: number;
  readonly maxSessionsPerUser: number;
  readonly drainTimeoutMs: number;
  /** How long a keyed mutation's outcome is kept (`idempotencyWindowMs`), in ms. */
  readonly idempotencyWindowMs: number;
  /** Other origins allowed to call from a browser (`allowedOrigins`); the transports read it. */
  readonly allowedOrigins: AllowedOrigins;
  readonly store: Store;
  /** Optional store capabilities this node runs on its own (`/health` reports them). */
  readonly storeFallbacks: readonly StoreFallback[];
  /** Per-session event streams; write with `publish`. */
  readonly events: EventLog;
  /** Node-wide admission of requests; adapters take a slot per request. */
  readonly capacity: CapacityLimiter;
  /** Node-wide and per-session budget of long-lived streams, apart from `capacity`. */
  readonly streams: StreamBudget;
  readonly #now: () => number;
  readonly #idempotency: CapabilitiesInUse['idempotency'];
  readonly #announcer: SessionAnnouncer;
  readonly #sweeper: Sweeper;
  readonly #admission: SessionAdmission;
  readonly #requests: RequestTracker;
  readonly #sessions: Sessions;
  readonly #lifecycle: Lifecycle;
  readonly #metrics: MetricsSources;

  constructor(options: SessionManagerOptions = {}) {
    super();
    const settings = resolveSettings(options);
    this.sessionTimeoutMs = settings.sessionTimeoutMs;
    this.cleanupIntervalMs = settings.cleanupIntervalMs;
    this.maxConcurrentRequests = settings.maxConcurrentRequests;
    this.maxMetadataBytes = settings.maxMetadataBytes;
    this.maxMetadataDepth = settings.maxMetadataDepth;
    this.maxSessions = settings.maxSessions;
    this.maxSessionsPerUser = settings.maxSessionsPerUser;
    this.drainTimeoutMs = settings.drainTimeoutMs;
    this.idempotencyWindowMs = settings.idempotencyWindowMs;
    this.allowedOrigins = settings.allowedOrigins;
    this.#now = settings.now;
    const parts = buildParts(this, options, settings);
    this.store = parts.store;
    this.storeFallbacks = parts.storeFallbacks;
    this.#idempotency = parts.idempotency;
    this.events = parts.events;
    this.capacity = parts.capacity;
    this.streams = parts.streams;
    this.#announcer = parts.announcer;
    this.#sweeper = parts.sweeper;
    this.#admission = parts.admission;
    this.#requests = parts.requests;
    this.#sessions = parts.sessions;
    this.#lifecycle = parts.lifecycle;
    this.#metrics = parts.metrics;
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.#lifecycle.running;
  }

  /** True once `stop()` has been called. */
  get stopping(): boolean {
    return this.#lifecycle.stopping;
  }

  /**
   * Starts the periodic expiry sweep and listens for other nodes' events.
   * The first start tells of the store's fallbacks (`warning`). Idempotent.
   */
  start(): this {
    this.#lifecycle.start();
    return this;
  }

  /**
   * Drains and stops: waits for requests in flight up to `drainTimeoutMs`,
   * then releases the timer and closes the store, so the process can exit.
   */
  stop(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    return this.#lifecycle.stop(options.drainTimeoutMs ?? this.drainTimeoutMs);
  }

  /** Resolves when no request is in flight, or after `timeoutMs`; true when drained. */
  drain(timeoutMs: number = this.drainTimeoutMs): Promise<boolean> {
    return this.#requests.drain(timeoutMs);
  }

  /**
   * Creates a session. The store holds at most `maxSessions` (past it 503
   * `SERVER_AT_CAPACITY`, after a sweep found nothing to free), and a user at
   * most `maxSessionsPerUser`: at that cap the user's least recently active
   * sessions end (`deleted`, sockets closed 4404), as a device limit would.
   *
   * @throws InvalidMetadataError for bad or oversize metadata.
   * @throws CapacityError when the store is full.
   */
  createSession(input: CreateSessionInput = {}): Promise<Session> {
    return this.#sessions.create(input);
  }

  /**
   * Changes a session's metadata by a JSON merge patch (RFC 7396: `null`
   * removes a key, objects merge key by key, anything else replaces) and
   * returns the session with its new `metadataVersion`. Concurrent updates
   * never lose a write, on any node: each is applied to the version it read,
   * atomically in the store, and read again and retried when another update
   * came first. With `ifVersion` it is applied only to that version: another
   * one answers 409 `VERSION_CONFLICT` and nothing changes (read, decide,
   * write without a lost update, unlike express-session's last write wins).
   * Touches the session.
   *
   * @throws SessionNotFoundError when the session is absent or expired.
   * @throws VersionConflictError when `ifVersion` is not the current version.
   * @throws InvalidMetadataError for a patch that is not a JSON object, or a result past the limits.
   * @example
   * const { metadataVersion } = await manager.updateMetadata(id, { cart: [1, 2] });
   * await manager.updateMetadata(id, { cart: [1, 2, 3] }, { ifVersion: metadataVersion });
   */
  updateMetadata(
    sessionId: string,
    patch: JsonObject,
    options: { ifVersion?: number | undefined } = {},
  ): Promise<Session> {
    return this.#sessions.updateMetadata(sessionId, patch, options.ifVersion);
  }

  /**
   * Claims idempotency key `key` of a session for a call with
   * `fingerprint` (see `IdempotencyKeys.claimIdempotencyKey`; records on
   * this node when the store keeps none): `new` when this call holds it
   * now, else the record another call left. Morgan's tRPC procedures use it
   * for every mutation sent with a key.
   */
  claimIdempotencyKey(
    sessionId: string,
    key: string,
    fingerprint: string,
  ): Promise<IdempotencyClaim> {
    return this.#idempotency.claimIdempotencyKey(sessionId, key, fingerprint, this.#now());
  }

  /** Stores the outcome of the call that claimed `key`, for `idempotencyWindowMs`. */
  completeIdempotencyKey(sessionId: string, key: string, outcome: string): Promise<void> {
    return this.#idempotency.completeIdempotencyKey(sessionId, key, outcome, this.#now());
  }

  /** Drops a pending claim of `key`, so the call may run again (it failed transiently). */
  releaseIdempotencyKey(sessionId: string, key: string): Promise<void> {
    return this.#idempotency.releaseIdempotencyKey(sessionId, key);
  }

  /** The session, or undefined when absent or expired. Does not touch it. */
  getSession(sessionId: string): Promise<Session | undefined> {
    return this.#sessions.get(sessionId);
  }

  /** The user's most recently active session. */
  getSessionByUser(userId: string): Promise<Session | undefined> {
    return this.#sessions.getByUser(userId);
  }

  /** All live sessions of a user, most recently active first. */
  listSessionsByUser(userId: string): Promise<Session[]> {
    return this.#sessions.listByUser(userId);
  }

  /**
   * Up to `limit` live sessions of all users, most recently active first, for
   * admin views (the cost may grow with all sessions).
   *
   * @throws MorganError `INTERNAL_ERROR` when the store cannot list sessions.
   * @example
   * const recent = await manager.listSessions(50);
   */
  listSessions(limit = 100): Promise<Session[]> {
    return this.#sessions.list(limit);
  }

  /**
   * Deletes a session at once. Requests in flight finish but do not bring it
   * back. Returns false when there was no such session.
   */
  deleteSession(sessionId: string): Promise<boolean> {
    return this.#sessions.delete(sessionId);
  }

  /**
   * Replaces a session by a new one, the express-session `regenerate` for use
   * after a login (so an id seen before the login is worth nothing after
   * it): a new id with the same user, conversation and metadata. The old id
   * answers 404 at once, on every node. Its open sockets stay open and move
   * to the new session, its `session.events` streams end with a
   * `session.rotated` event naming the new id, and the HTTP request that
   * rotated answers with the new id in its `X-Session-Id` response header.
   * `changes.userId` gives the new session the user who just logged in (an
   * anonymous session becomes theirs); without it the old user stays.
   *
   * @throws SessionNotFoundError when the session is absent or expired.
   * @example
   * app.post('/login', requireSession(), async (req, res) => {
   *   const user = await checkPassword(req.body);
   *   const session = await manager.rotateSession(req.morgan.session!.sessionId, { userId: user.id });
   *   res.json({ sessionId: session.sessionId });
   * });
   */
  rotateSession(sessionId: string, changes: RotateChanges = {}): Promise<Session> {
    return this.#sessions.rotate(sessionId, changes);
  }

  /**
   * Takes one session creation from `clientAddress`'s allowance
   * (`createRateLimit`); call it before `createSession` on behalf of an
   * untrusted client, as `session.create` does.
   *
   * @throws RateLimitedError (429) past the limit, with the window for `Retry-After`.
   * @throws StoreUnavailableError when the store that counts cannot be reached.
   */
  admitCreation(clientAddress: string | undefined): Promise<void> {
    return this.#admission.admitCreation(clientAddress);
  }

  /**
   * The refusal `admitCreation` would give `clientAddress` without asking the
   * store: this node refused the address and its window has not reset yet
   * (`resetMs` is the time left). `trpcHandler` answers with it before
   * reading the request's body, so a flood from one address costs next to
   * nothing per request. Undefined when this node knows of none (the store
   * may still refuse).
   */
  creationRefusal(clientAddress: string | undefined): RateLimitDecision | undefined {
    return this.#admission.creationRefusal(clientAddress);
  }

  /**
   * The id that replaced `sessionId` in a rotation seen by this node in the
   * last minute, if any. Streams and sockets use it to follow a rotation.
   */
  rotatedTo(sessionId: string): string | undefined {
    return this.#announcer.rotatedTo(sessionId);
  }

  /**
   * Ends every session of a user at once ("log out everywhere"); their
   * sockets close with 4404 on every node. Returns how many were ended.
   *
   * @example
   * const ended = await manager.deleteSessionsByUser(user.id);
   */
  deleteSessionsByUser(userId: string): Promise<number> {
    return this.#sessions.deleteByUser(userId);
  }

  /**
   * Appends an event to the session's stream; subscribers of
   * `session.events` get it live, reconnecting ones from the replay buffer.
   *
   * @throws SessionNotFoundError when the session is absent or expired.
   * @example
   * await manager.publish(sessionId, 'chat.reply', { reply, messageCount });
   */
  publish<TData extends JsonValue>(
    sessionId: string,
    type: string,
    data: TData,
  ): Promise<SessionEvent<TData>> {
    return this.#sessions.publish(sessionId, type, data);
  }

  /** Marks activity; returns the updated session, undefined when absent or expired. */
  touch(sessionId: string): Promise<Session | undefined> {
    return this.#sessions.touch(sessionId);
  }

  /**
   * Runs `fn` as a request of the session: the session cannot expire while it
   * runs and its `activeRequests` lists the request id.
   *
   * Without `fn`, returns a handle for `await using`.
   *
   * @throws SessionNotFoundError when the session is absent or expired.
   * @example
   * const reply = await manager.trackRequest(id, () => answer(message));
   * // or
   * await using request = await manager.trackRequest(id);
   */
  trackRequest<T>(sessionId: string, fn: (request: TrackedRequest) => T | Promise<T>): Promise<T>;
  trackRequest(sessionId: string): Promise<TrackedRequest>;
  trackRequest<T>(
    sessionId: string,
    fn?: (request: TrackedRequest) => T | Promise<T>,
  ): Promise<T | TrackedRequest> {
    return this.#requests.track(sessionId, fn);
  }

  /** Starts tracking a request; the caller must `end()` it. */
  beginRequest(sessionId: string): Promise<TrackedRequest> {
    return this.#requests.begin(sessionId);
  }

  /**
   * `beginRequest` without a promise, for stores that track requests
   * synchronously (`MemoryStore`): no microtask hop on the per-request hot
   * path of `sessionMiddleware`. Returns undefined when the store has no
   * synchronous form; the caller then uses `beginRequest`.
   *
   * @throws SessionNotFoundError when the session is absent or expired.
   */
  beginRequestSync(sessionId: string): TrackedRequest | undefined {
    return this.#requests.beginSync(sessionId);
  }

  /** Counts an open connection (WebSocket); the session cannot expire while it is open. */
  addConnection(sessionId: string): Promise<Session> {
    return this.#sessions.addConnection(sessionId);
  }

  /** Counts a closed connection. */
  removeConnection(sessionId: string): Promise<void> {
    return this.#sessions.removeConnection(sessionId);
  }

  /** Removes expired sessions now and announces each with `expired`. Returns how many. */
  cleanup(): Promise<number> {
    return this.#sweeper.cleanup();
  }

  /** Sessions alive now (expired ones are swept first, at the cost of those removed). */
  getActiveSessionCount(): Promise<number> {
    return this.#sweeper.countLive();
  }

  /** Counters and gauges for health checks and Prometheus. */
  getMetrics(): Promise<SessionMetrics> {
    return readMetrics(this.#metrics);
  }

  /** Requests tracked on this node now. */
  get activeRequestCount(): number {
    return this.#requests.active;
  }
}
