import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type CapacityLimiter, type CapacityOptions, createCapacityLimiter } from './capacity.js';
import { type AllowedOrigins, checkAllowedOrigins } from './cross-origin.js';
import {
  CapacityError,
  ErrorCode,
  MorganError,
  RateLimitedError,
  SessionNotFoundError,
  VersionConflictError,
} from './errors.js';
import type { EventLog, SessionEvent } from './events/event-log.js';
import { MemoryEventLog } from './events/memory-event-log.js';
import {
  DEFAULT_MAX_METADATA_BYTES,
  DEFAULT_MAX_METADATA_DEPTH,
  type JsonObject,
  type JsonValue,
  mergePatch,
  serializeMetadata,
} from './metadata.js';
import {
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitPolicy,
  RecentRefusals,
} from './rate-limit.js';
import { RecentRotations } from './rotations.js';
import {
  type CreateSessionInput,
  newSessionId,
  type Session,
  type SessionRecord,
  toSession,
} from './session.js';
import {
  announceFallbacks,
  type CapabilitiesInUse,
  type StoreFallback,
  type StoreFallbackWarning,
  storeCapabilities,
} from './store/capabilities.js';
import { MemoryStore } from './store/memory.js';
import type { IdempotencyClaim, RotateChanges, Store, StoreEvent } from './store/store.js';
import { StreamBudget, streamBudgetDefaults } from './streams.js';

/** Options of a `SessionManager`. Each has a `MORGAN_*` variable (see `loadConfig`). */
export interface SessionManagerOptions {
  /** Idle time after which a session expires, in ms. @default 3_600_000 (60 min) */
  sessionTimeoutMs?: number;
  /** Time between expiry sweeps, in ms. @default 300_000 (300 s) */
  cleanupIntervalMs?: number;
  /** Requests in flight on this node before new ones are shed. @default 100 */
  maxConcurrentRequests?: number;
  /**
   * Requests that may wait for a free slot, once `maxConcurrentRequests` are
   * in flight, instead of being shed at once. @default 0 (shed at once)
   */
  maxQueuedRequests?: number;
  /** Longest wait in that queue before a request is shed, in ms. @default 0 */
  maxQueueWaitMs?: number;
  /**
   * How many requests the node admits at once: `'static'` mode uses
   * `maxConcurrentRequests`; `{ mode: 'adaptive', minLimit, maxLimit, … }` a
   * limit that follows measured latency. Either way session control gets a
   * small headroom past the limit (`controlHeadroom`). @default { mode: 'static' }
   */
  capacity?: CapacityOptions;
  /** Largest serialised metadata, in bytes. @default 16_384 */
  maxMetadataBytes?: number;
  /** Deepest nesting of objects and arrays in metadata; deeper answers 400 `INVALID_METADATA`. @default 16 */
  maxMetadataDepth?: number;
  /**
   * Sessions the store may hold; past it `createSession` answers 503
   * `SERVER_AT_CAPACITY` (a store full of live sessions). @default 1_000_000
   */
  maxSessions?: number;
  /**
   * Live sessions one user may have; creating one more ends the user's least
   * recently active session (its sockets close with 4404). @default 100
   */
  maxSessionsPerUser?: number;
  /**
   * Streams (tRPC subscriptions over SSE) open at once on this node. Streams
   * never hold a request slot of `maxConcurrentRequests`. @default 10_000
   */
  maxStreams?: number;
  /** Streams one session may hold open at once on this node; past it 429 `RATE_LIMITED`. @default 8 */
  maxStreamsPerSession?: number;
  /**
   * Sessions `session.create` makes per client address (Express `req.ip`, so
   * `trust proxy` applies; the socket's address over WebSocket) in a fixed
   * window; past it 429 `RATE_LIMITED` with `Retry-After` and `RateLimit`
   * headers. Counted in the store when it can (Redis: across nodes). `false`
   * turns it off. @default { limit: 60, windowMs: 60_000 }
   */
  createRateLimit?: RateLimitPolicy | false;
  /**
   * Requests one session may make (HTTP requests through `sessionMiddleware`
   * and calls over its WebSockets) in a fixed window; past it 429
   * `RATE_LIMITED` with `Retry-After` and `RateLimit` headers until the window
   * resets. Counted by the store in the same step that tracks the request
   * (Redis: across nodes, no extra round trip); a refusal is then remembered
   * on this node, so an abusive session costs no store call for the rest of
   * its window. `false` turns it off. @default { limit: 600, windowMs: 60_000 }
   */
  requestRateLimit?: RateLimitPolicy | false;
  /** Longest wait for in-flight requests in `stop()`, in ms. @default 10_000 */
  drainTimeoutMs?: number;
  /**
   * How long the outcome of a mutation sent with an idempotency key (the
   * `Idempotency-Key` header, or `params.idempotencyKey` over WebSocket) is
   * kept in the store for its session, in ms: a repeat within it, on any
   * node, answers the first outcome instead of running again. Counted from
   * the call's start while it runs, and again from its end.
   * @default 300_000 (5 min)
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
   * (`https://app.example.com`) or a function deciding. One setting for
   * every transport: `sessionMiddleware` and `trpcHandler` refuse an unsafe
   * HTTP request (POST, PUT, …) that the browser marks as cross-site with
   * 403 `CROSS_SITE_REQUEST`, and `attachWebSocket` refuses an upgrade from
   * another origin with 403 `FORBIDDEN_ORIGIN`, unless it is listed here.
   * Same-origin pages and clients that send no `Origin` (servers, the SDK
   * in Node) need no entry. Each adapter may override it.
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

/** How a session ended, as announced by the `deleted` and `expired` events. */
export interface SessionEndedEvent {
  sessionId: string;
  userId?: string;
  /** `local` when this node ended it, `remote` when another node did. */
  origin: 'local' | 'remote';
}

/** A session replaced by a new id (`rotateSession`), as the `rotated` event announces it. */
export interface SessionRotatedEvent {
  /** The old id, which answers 404 from now on. */
  sessionId: string;
  /** The id that replaced it. */
  newSessionId: string;
  /** `local` when this node rotated it, `remote` when another node did. */
  origin: 'local' | 'remote';
}

/** Events a `SessionManager` emits. */
export interface SessionManagerEvents {
  created: [session: Session];
  deleted: [event: SessionEndedEvent];
  expired: [event: SessionEndedEvent];
  /** A session got a new id; its sockets and streams follow it. */
  rotated: [event: SessionRotatedEvent];
  /** A background sweep failed (for example the store was unreachable). */
  error: [error: Error];
  /** Once at `start()` when the store lacks capabilities (else `process.emitWarning`). */
  warning: [warning: StoreFallbackWarning];
}

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

/** A request tracked with `await using`; disposing it ends the request. */
export interface TrackedRequest extends AsyncDisposable {
  readonly requestId: string;
  /** The tracked session's id (reading it builds no snapshot). */
  readonly sessionId: string;
  /**
   * The session, as a snapshot built when first read (the record the store
   * answered, with this request among its `activeRequests`). A request that
   * never reads it pays for no `Date`, metadata parse or array copy.
   */
  readonly session: Session;
  /** Ends the request; safe to call more than once. */
  end(): Promise<void>;
}

/**
 * Creates, tracks, expires and isolates client sessions. Knows nothing about
 * transports: Express, tRPC and WebSocket adapters sit on top.
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
  readonly #idempotency: CapabilitiesInUse['idempotency'];
  /** Per-session event streams; write with `publish`. */
  readonly events: EventLog;
  /** Node-wide admission of requests; adapters take a slot per request. */
  readonly capacity: CapacityLimiter;
  /** Node-wide and per-session budget of long-lived streams, apart from `capacity`. */
  readonly streams: StreamBudget;
  /** Sessions created per client address (`createRateLimit`); undefined when off. */
  readonly #createLimiter: RateLimiter | undefined;
  readonly #createRefusals = new RecentRefusals();
  /** Requests per session (`requestRateLimit`), counted by the store; undefined when off. */
  readonly #requestPolicy: RateLimitPolicy | undefined;
  readonly #requestRefusals = new RecentRefusals();
  readonly #now: () => number;
  readonly #requestPrefix = randomBytes(4).toString('hex');
  #requestSeq = 0;
  /** What a tracked request needs to end itself (one object per manager, not per request). */
  readonly #requestEnds: RequestEnds = {
    store: () => this.store,
    now: () => this.#now(),
    ended: () => this.#requestEnded(),
    failed: (error) => this.#emitError(error),
  };
  #activeRequests = 0;
  #created = 0;
  #expired = 0;
  #cleaned = 0;
  #deleted = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;
  #stopping: Promise<void> | undefined;
  readonly #drainWaiters = new Set<() => void>();
  readonly #rotations = new RecentRotations();

  constructor(options: SessionManagerOptions = {}) {
    super();
    this.sessionTimeoutMs = positive(
      'sessionTimeoutMs',
      options.sessionTimeoutMs ?? sessionManagerDefaults.sessionTimeoutMs,
    );
    this.cleanupIntervalMs = timerDelay(
      'cleanupIntervalMs',
      positive(
        'cleanupIntervalMs',
        options.cleanupIntervalMs ?? sessionManagerDefaults.cleanupIntervalMs,
      ),
    );
    const limit = (name: PositiveOption) =>
      positive(name, options[name] ?? sessionManagerDefaults[name]);
    this.maxConcurrentRequests = limit('maxConcurrentRequests');
    this.maxMetadataBytes = limit('maxMetadataBytes');
    this.maxMetadataDepth = limit('maxMetadataDepth');
    this.maxSessions = limit('maxSessions');
    this.maxSessionsPerUser = limit('maxSessionsPerUser');
    this.drainTimeoutMs = timerDelay(
      'drainTimeoutMs',
      options.drainTimeoutMs ?? sessionManagerDefaults.drainTimeoutMs,
    );
    this.idempotencyWindowMs = timerDelay(
      'idempotencyWindowMs',
      positive(
        'idempotencyWindowMs',
        options.idempotencyWindowMs ?? sessionManagerDefaults.idempotencyWindowMs,
      ),
    );
    this.allowedOrigins = checkAllowedOrigins(
      options.allowedOrigins ?? sessionManagerDefaults.allowedOrigins,
    );
    this.#now = options.now ?? Date.now;
    this.store = options.store ?? new MemoryStore();
    const requestPolicy = options.requestRateLimit ?? sessionManagerDefaults.requestRateLimit;
    this.#requestPolicy =
      requestPolicy === false
        ? undefined
        : {
            limit: positive('requestRateLimit.limit', requestPolicy.limit),
            windowMs: positive('requestRateLimit.windowMs', requestPolicy.windowMs),
          };
    this.store.configure({
      sessionTimeoutMs: this.sessionTimeoutMs,
      requestWindowMs: this.#requestPolicy?.windowMs,
      idempotencyWindowMs: this.idempotencyWindowMs,
    });
    const capabilities = storeCapabilities(this.store, {
      idempotencyWindowMs: this.idempotencyWindowMs,
    });
    this.storeFallbacks = capabilities.fallbacks;
    this.#idempotency = capabilities.idempotency;
    this.events = options.eventLog ?? new MemoryEventLog();
    this.events.configure?.({ sessionTimeoutMs: this.sessionTimeoutMs });
    this.capacity = createCapacityLimiter(
      {
        maxConcurrent: this.maxConcurrentRequests,
        maxQueue: options.maxQueuedRequests ?? sessionManagerDefaults.maxQueuedRequests,
        maxQueueWaitMs: options.maxQueueWaitMs ?? sessionManagerDefaults.maxQueueWaitMs,
      },
      options.capacity,
    );
    const createPolicy = options.createRateLimit ?? sessionManagerDefaults.createRateLimit;
    this.#createLimiter =
      createPolicy === false ? undefined : capabilities.rateLimiter('create', createPolicy);
    this.streams = new StreamBudget({
      maxStreams: limit('maxStreams'),
      maxStreamsPerSession: limit('maxStreamsPerSession'),
    });
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** True once `stop()` has been called. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Starts the periodic expiry sweep and listens for other nodes' events. Idempotent. */
  start(): this {
    if (this.#timer !== undefined || this.#stopping !== undefined) return this;
    this.#timer = setInterval(() => {
      this.cleanup().catch((error: unknown) => this.#emitError(error));
    }, this.cleanupIntervalMs);
    this.#timer.unref();
    this.#unsubscribe = this.store.subscribe?.((event) => this.#onStoreEvent(event));
    announceFallbacks(this.store, this.storeFallbacks, (warning) => this.emit('warning', warning));
    return this;
  }

  /**
   * Drains and stops: waits for requests in flight up to `drainTimeoutMs`,
   * then releases the timer and closes the store, so the process can exit.
   */
  stop(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.drainTimeoutMs ?? this.drainTimeoutMs);
    return this.#stopping;
  }

  async #stop(drainTimeoutMs: number): Promise<void> {
    await this.drain(drainTimeoutMs);
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.store.close();
    await this.events.close();
  }

  /** Resolves when no request is in flight, or after `timeoutMs`; true when drained. */
  drain(timeoutMs: number = this.drainTimeoutMs): Promise<boolean> {
    if (this.#activeRequests === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (drained: boolean) => {
        clearTimeout(timer);
        this.#drainWaiters.delete(onIdle);
        resolve(drained);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.#drainWaiters.add(onIdle);
    });
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
  async createSession(input: CreateSessionInput = {}): Promise<Session> {
    await this.#roomForOneMore();
    const now = this.#now();
    const record: SessionRecord = {
      sessionId: newSessionId(),
      userId: optionalString('userId', input.userId),
      conversationId: optionalString('conversationId', input.conversationId),
      createdAt: now,
      lastActivity: now,
      metadata: serializeMetadata(input.metadata, this.maxMetadataBytes, this.maxMetadataDepth),
      metadataVersion: 1,
      connectionCount: 0,
      activeRequests: [],
    };
    if (record.userId !== undefined) await this.#capUserSessions(record.userId, now);
    await this.store.create(record);
    this.#created += 1;
    const session = toSession(record);
    this.emit('created', session);
    return toSession(record);
  }

  /** Throws when the store holds `maxSessions`, once a sweep has removed what it could. */
  async #roomForOneMore(): Promise<void> {
    if ((await this.store.count()) < this.maxSessions) return;
    await this.#sweep();
    if ((await this.store.count()) < this.maxSessions) return;
    throw new CapacityError(1, 'The session store is full, retry later');
  }

  /** Ends the user's least recently active sessions so one more fits under `maxSessionsPerUser`. */
  async #capUserSessions(userId: string, now: number): Promise<void> {
    const records = await this.store.listByUser(userId, now);
    const excess = records.length - this.maxSessionsPerUser + 1;
    if (excess <= 0) return;
    // listByUser is most recently active first: the oldest are at the end.
    const oldest = records.slice(-excess);
    await Promise.all(oldest.map((record) => this.deleteSession(record.sessionId)));
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
  async updateMetadata(
    sessionId: string,
    patch: JsonObject,
    options: { ifVersion?: number | undefined } = {},
  ): Promise<Session> {
    // Validates the patch itself (JSON, depth) before anything is read.
    serializeMetadata(patch, Number.POSITIVE_INFINITY, this.maxMetadataDepth);
    const { ifVersion } = options;
    for (let attempt = 0; attempt < MAX_METADATA_ATTEMPTS; attempt += 1) {
      const record = await this.store.get(sessionId, this.#now());
      if (record === undefined) throw new SessionNotFoundError(sessionId);
      if (ifVersion !== undefined && ifVersion !== record.metadataVersion) {
        throw new VersionConflictError(record.metadataVersion);
      }
      const merged = mergePatch(JSON.parse(record.metadata) as JsonObject, patch);
      const text = serializeMetadata(merged, this.maxMetadataBytes, this.maxMetadataDepth);
      const updated = await this.store.replaceMetadata(
        sessionId,
        text,
        record.metadataVersion,
        this.#now(),
      );
      if (updated === undefined) throw new SessionNotFoundError(sessionId);
      if (updated !== 'conflict') return toSession(updated);
      if (ifVersion !== undefined) throw new VersionConflictError();
    }
    // Updated by others this many times in a row while this one tried.
    throw new VersionConflictError();
  }

  /**
   * Claims idempotency key `key` of a session for a call with
   * `fingerprint` (see `Store.claimIdempotencyKey`): `new` when this call
   * holds it now, else the record another call left. Morgan's tRPC
   * procedures use it for every mutation sent with a key.
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
  async getSession(sessionId: string): Promise<Session | undefined> {
    const record = await this.store.get(sessionId, this.#now());
    return record && toSession(record);
  }

  /** The user's most recently active session. */
  async getSessionByUser(userId: string): Promise<Session | undefined> {
    const [record] = await this.store.listByUser(userId, this.#now());
    return record && toSession(record);
  }

  /** All live sessions of a user, most recently active first. */
  async listSessionsByUser(userId: string): Promise<Session[]> {
    const records = await this.store.listByUser(userId, this.#now());
    return records.map(toSession);
  }

  /**
   * Up to `limit` live sessions of all users, most recently active first, for
   * admin views (the cost may grow with all sessions).
   *
   * @throws MorganError `INTERNAL_ERROR` when the store cannot list sessions.
   * @example
   * const recent = await manager.listSessions(50);
   */
  async listSessions(limit = 100): Promise<Session[]> {
    if (this.store.list === undefined) {
      const message = `The ${this.store.name} store cannot list sessions`;
      throw new MorganError(ErrorCode.INTERNAL_ERROR, message);
    }
    const records = await this.store.list(limit, this.#now());
    return records.map(toSession);
  }

  /**
   * Deletes a session at once. Requests in flight finish but do not bring it
   * back. Returns false when there was no such session.
   */
  async deleteSession(sessionId: string): Promise<boolean> {
    const record = await this.store.delete(sessionId);
    if (record === undefined) return false;
    this.#deleted += 1;
    this.#dropEvents(record.sessionId);
    this.emit('deleted', ended(record.sessionId, record.userId, 'local'));
    return true;
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
  async rotateSession(sessionId: string, changes: RotateChanges = {}): Promise<Session> {
    const userId = optionalString('userId', changes.userId);
    const record = await this.store.rotate(sessionId, newSessionId(sessionId), this.#now(), {
      userId,
    });
    if (record === undefined) throw new SessionNotFoundError(sessionId);
    this.#rotated(sessionId, record.sessionId, 'local');
    return toSession(record);
  }

  /**
   * Takes one session creation from `clientAddress`'s allowance
   * (`createRateLimit`); call it before `createSession` on behalf of an
   * untrusted client, as `session.create` does.
   *
   * @throws RateLimitedError (429) past the limit, with the window for `Retry-After`.
   * @throws StoreUnavailableError when the store that counts cannot be reached.
   */
  async admitCreation(clientAddress: string | undefined): Promise<void> {
    if (this.#createLimiter === undefined) return;
    const known = this.creationRefusal(clientAddress);
    if (known !== undefined) throw creationRefused(known);
    const key = clientAddress ?? 'unknown';
    const decision = await this.#createLimiter.consume(key);
    if (decision.allowed) return;
    this.#createRefusals.add(key, decision, this.#now());
    throw creationRefused(decision);
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
    if (this.#createRefusals.size === 0) return undefined;
    return this.#createRefusals.get(clientAddress ?? 'unknown', this.#now());
  }

  /**
   * The id that replaced `sessionId` in a rotation seen by this node in the
   * last minute, if any. Streams and sockets use it to follow a rotation.
   */
  rotatedTo(sessionId: string): string | undefined {
    return this.#rotations.get(sessionId, this.#now());
  }

  /**
   * Ends every session of a user at once ("log out everywhere"); their
   * sockets close with 4404 on every node. Returns how many were ended.
   *
   * @example
   * const ended = await manager.deleteSessionsByUser(user.id);
   */
  async deleteSessionsByUser(userId: string): Promise<number> {
    const records = await this.store.listByUser(
      optionalString('userId', userId) ?? '',
      this.#now(),
    );
    const deleted = await Promise.all(
      records.map((record) => this.deleteSession(record.sessionId)),
    );
    return deleted.filter(Boolean).length;
  }

  /**
   * Appends an event to the session's stream; subscribers of
   * `session.events` get it live, reconnecting ones from the replay buffer.
   *
   * @throws SessionNotFoundError when the session is absent or expired.
   * @example
   * await manager.publish(sessionId, 'chat.reply', { reply, messageCount });
   */
  async publish<TData extends JsonValue>(
    sessionId: string,
    type: string,
    data: TData,
  ): Promise<SessionEvent<TData>> {
    if ((await this.store.get(sessionId, this.#now())) === undefined) {
      throw new SessionNotFoundError(sessionId);
    }
    return this.events.append(sessionId, type, data);
  }

  /** Marks activity; returns the updated session, undefined when absent or expired. */
  async touch(sessionId: string): Promise<Session | undefined> {
    const record = await this.store.touch(sessionId, this.#now());
    return record && toSession(record);
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
  async trackRequest<T>(
    sessionId: string,
    fn?: (request: TrackedRequest) => T | Promise<T>,
  ): Promise<T | TrackedRequest> {
    const request = await this.beginRequest(sessionId);
    if (fn === undefined) return request;
    try {
      return await fn(request);
    } finally {
      await request.end();
    }
  }

  /** Starts tracking a request; the caller must `end()` it. */
  async beginRequest(sessionId: string): Promise<TrackedRequest> {
    this.#checkRequestRefusal(sessionId);
    const requestId = this.#nextRequestId();
    let record: SessionRecord | undefined;
    try {
      record = await this.store.addRequest(sessionId, requestId, this.#now());
    } catch (error) {
      this.#requestEnded();
      throw error;
    }
    return this.#tracked(sessionId, requestId, record, false);
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
    if (this.store.addRequestSync === undefined) return undefined;
    this.#checkRequestRefusal(sessionId);
    const requestId = this.#nextRequestId();
    let record: SessionRecord | undefined;
    try {
      record = this.store.addRequestSync(sessionId, requestId, this.#now());
    } catch (error) {
      this.#requestEnded();
      throw error;
    }
    return this.#tracked(sessionId, requestId, record, this.store.removeRequestSync !== undefined);
  }

  #nextRequestId(): string {
    this.#requestSeq += 1;
    this.#activeRequests += 1;
    return `${this.#requestPrefix}-${this.#requestSeq.toString(36)}`;
  }

  #tracked(
    sessionId: string,
    requestId: string,
    record: SessionRecord | undefined,
    syncEnd: boolean,
  ): TrackedRequest {
    if (record === undefined) {
      this.#requestEnded();
      throw new SessionNotFoundError(sessionId);
    }
    const request = new Tracked(this.#requestEnds, sessionId, requestId, record, syncEnd);
    const over = this.#overRequestLimit(sessionId, record);
    if (over !== undefined) {
      void request.end();
      throw over;
    }
    return request;
  }

  /** Throws the refusal this node remembers for the session's current window, if any. */
  #checkRequestRefusal(sessionId: string): void {
    if (this.#requestRefusals.size === 0) return;
    const known = this.#requestRefusals.get(sessionId, this.#now());
    if (known !== undefined) throw requestRefused(known);
  }

  /** The refusal for a request past `requestRateLimit` (remembered until its window resets). */
  #overRequestLimit(sessionId: string, record: SessionRecord): RateLimitedError | undefined {
    const policy = this.#requestPolicy;
    const count = record.requestsInWindow;
    if (policy === undefined || count === undefined || count <= policy.limit) return undefined;
    const now = this.#now();
    const resetAt =
      ((record.requestWindow ?? Math.floor(now / policy.windowMs)) + 1) * policy.windowMs;
    const decision: RateLimitDecision = {
      allowed: false,
      limit: policy.limit,
      remaining: 0,
      resetMs: Math.max(1, resetAt - now),
      windowMs: policy.windowMs,
    };
    this.#requestRefusals.add(sessionId, decision, now);
    return requestRefused(decision);
  }

  /** Counts an open connection (WebSocket); the session cannot expire while it is open. */
  async addConnection(sessionId: string): Promise<Session> {
    const record = await this.store.addConnection(sessionId, this.#now());
    if (record === undefined) throw new SessionNotFoundError(sessionId);
    return toSession(record);
  }

  /** Counts a closed connection. */
  async removeConnection(sessionId: string): Promise<void> {
    await this.store.removeConnection(sessionId, this.#now());
  }

  /** Removes expired sessions now and announces each with `expired`. Returns how many. */
  async cleanup(): Promise<number> {
    const removed = await this.#sweep();
    this.#cleaned += removed;
    return removed;
  }

  async #sweep(): Promise<number> {
    const records = await this.store.sweep(this.#now());
    for (const record of records) {
      this.#expired += 1;
      this.#dropEvents(record.sessionId);
      this.emit('expired', ended(record.sessionId, record.userId, 'local'));
    }
    return records.length;
  }

  /** Sessions alive now (expired ones are swept first, at the cost of those removed). */
  async getActiveSessionCount(): Promise<number> {
    await this.#sweep();
    return this.store.count();
  }

  /** Counters and gauges for health checks and Prometheus. */
  async getMetrics(): Promise<SessionMetrics> {
    return {
      activeSessions: await this.getActiveSessionCount(),
      totalSessionsCreated: this.#created,
      totalSessionsExpired: this.#expired,
      totalSessionsCleaned: this.#cleaned,
      totalSessionsDeleted: this.#deleted,
      sessionTimeoutMinutes: this.sessionTimeoutMs / 60_000,
      maxConcurrentRequests: this.maxConcurrentRequests,
      activeRequests: this.#activeRequests,
      inFlightRequests: this.capacity.inFlight,
      capacityLimit: this.capacity.limit,
      totalRequestsShed: this.capacity.shedCount,
    };
  }

  /** Requests tracked on this node now. */
  get activeRequestCount(): number {
    return this.#activeRequests;
  }

  #requestEnded(): void {
    this.#activeRequests -= 1;
    if (this.#activeRequests === 0) for (const waiter of [...this.#drainWaiters]) waiter();
  }

  #onStoreEvent(event: StoreEvent): void {
    if (event.type === 'rotated') {
      this.#rotated(event.sessionId, event.newSessionId, 'remote');
      return;
    }
    this.#dropEvents(event.sessionId);
    this.emit(event.type, ended(event.sessionId, undefined, 'remote'));
  }

  /** Remembers a rotation, lets listeners move sockets, then ends the old streams. */
  #rotated(sessionId: string, newSessionId: string, origin: 'local' | 'remote'): void {
    this.#rotations.remember(sessionId, newSessionId, this.#now());
    this.emit('rotated', { sessionId, newSessionId, origin });
    this.#dropEvents(sessionId);
  }

  #dropEvents(sessionId: string): void {
    this.events.drop(sessionId).catch((error: unknown) => this.#emitError(error));
  }

  #emitError(error: unknown): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    }
  }
}

const DONE: Promise<void> = Promise.resolve();

/** The manager's side of ending a tracked request. */
interface RequestEnds {
  store(): Store;
  now(): number;
  ended(): void;
  failed(error: unknown): void;
}

/**
 * A request in flight on its session: one object per request, its `end`
 * a method (this runs for every HTTP request, so no closures).
 */
class Tracked implements TrackedRequest {
  readonly requestId: string;
  readonly sessionId: string;
  readonly #ends: RequestEnds;
  readonly #syncEnd: boolean;
  /** What the store answered; made into a `Session` only when read. */
  #record: SessionRecord | undefined;
  #session: Session | undefined = undefined;
  #ending: Promise<void> | undefined;

  constructor(
    ends: RequestEnds,
    sessionId: string,
    requestId: string,
    record: SessionRecord,
    syncEnd: boolean,
  ) {
    this.#ends = ends;
    this.sessionId = sessionId;
    this.requestId = requestId;
    this.#record = record;
    this.#syncEnd = syncEnd;
  }

  get session(): Session {
    if (this.#session === undefined) {
      this.#session = toSession(this.#record as SessionRecord);
      this.#record = undefined;
    }
    return this.#session;
  }

  end(): Promise<void> {
    if (this.#ending !== undefined) return this.#ending;
    const ends = this.#ends;
    const store = ends.store();
    if (this.#syncEnd) {
      this.#ending = DONE;
      try {
        store.removeRequestSync?.(this.sessionId, this.requestId, ends.now());
      } catch (error) {
        ends.failed(error);
      }
      ends.ended();
      return DONE;
    }
    // One promise per end: this runs once for every HTTP request.
    this.#ending = store.removeRequest(this.sessionId, this.requestId, ends.now()).then(
      () => ends.ended(),
      (error: unknown) => {
        ends.ended();
        ends.failed(error);
      },
    );
    return this.#ending;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.end();
  }
}

function ended(
  sessionId: string,
  userId: string | undefined,
  origin: SessionEndedEvent['origin'],
): SessionEndedEvent {
  return userId === undefined ? { sessionId, origin } : { sessionId, userId, origin };
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

/** Tries of one `updateMetadata` without `ifVersion` when others keep updating first. */
const MAX_METADATA_ATTEMPTS = 32;

function timerDelay(name: string, value: number): number {
  if (!(value >= 0 && value <= MAX_TIMER_DELAY_MS)) {
    throw new MorganError(
      ErrorCode.INVALID_CONFIG,
      `${name} must be from 0 to ${MAX_TIMER_DELAY_MS} ms, got ${value}`,
    );
  }
  return value;
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new MorganError(
      ErrorCode.INVALID_REQUEST,
      `${name} must be a string of 1 to 256 characters`,
    );
  }
  return value;
}

/** The message of a refused session creation. */
export const CREATION_REFUSED = 'Too many sessions created from this address, retry later';

function creationRefused(decision: RateLimitDecision): RateLimitedError {
  return new RateLimitedError(CREATION_REFUSED, Math.max(1, Math.ceil(decision.resetMs / 1000)), {
    name: 'create',
    ...decision,
  });
}

function requestRefused(decision: RateLimitDecision): RateLimitedError {
  return new RateLimitedError(
    'Too many requests from this session, retry later',
    Math.max(1, Math.ceil(decision.resetMs / 1000)),
    { name: 'session', ...decision },
  );
}
