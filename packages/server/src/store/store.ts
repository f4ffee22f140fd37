import type { RateLimiter, RateLimitPolicy } from '../rate-limit.js';
import type { SessionRecord } from '../session.js';

/** What the manager tells a store when it takes it into use. */
export interface StoreSettings {
  /** Idle time after which an unpinned session is expired, in milliseconds. */
  sessionTimeoutMs: number;
  /**
   * When set, `addRequest` counts each session's requests in fixed windows of
   * this length (ms) and returns the count with the record
   * (`requestWindow`, `requestsInWindow`), in the same atomic step, so the
   * manager's per-session rate limit costs no extra round trip. @default undefined (no counting)
   */
  requestWindowMs?: number | undefined;
  /**
   * How long an idempotency key's record is kept, in ms: from its claim
   * while the call runs, and again from its completion. @default 300_000 (5 min)
   */
  idempotencyWindowMs?: number | undefined;
}

/**
 * What `claimIdempotencyKey` found: `new` (the caller holds the key now and
 * runs the call), `pending` (another call with this key is running), or
 * `done` with the first call's stored outcome. `fingerprint` is what the
 * claiming call gave (its path and input, hashed), so a different call
 * under the same key can be told apart.
 */
export type IdempotencyClaim =
  | { readonly state: 'new' }
  | { readonly state: 'pending'; readonly fingerprint: string }
  | { readonly state: 'done'; readonly fingerprint: string; readonly outcome: string };

/** What a rotation may change besides the id. */
export interface RotateChanges {
  /** The new session's user (the one who just logged in); the old session's when undefined. */
  userId?: string | undefined;
}

/** A session ended or rotated on another node (delivered by stores that span nodes). */
export type StoreEvent =
  | { type: 'deleted' | 'expired'; sessionId: string }
  /** `sessionId` was replaced by `newSessionId` (`rotate`). */
  | { type: 'rotated'; sessionId: string; newSessionId: string };

/**
 * The required tier of `Store`: what every session store does. `MemoryStore`
 * is the reference implementation; every store passes the same conformance
 * suite (`@morgan/session-server/testing`).
 *
 * Rules every store keeps:
 * - A session is *expired* when it is not pinned (no requests in flight, no
 *   open connections) and `now - lastActivity > sessionTimeoutMs`. Expired
 *   sessions are invisible to every read and write, and `sweep` removes them.
 * - Operations are atomic per session: counters stay exact under any
 *   interleaving of calls, also from several nodes.
 * - Records handed out are owned by the store; callers copy, never mutate.
 * - Each operation is one round trip to the backing service.
 *
 * `replaceMetadata` and `listByUser` belong here although a store could
 * leave them out: the manager cannot make them up on one node.
 * `updateMetadata` never loses a write only because the store compares the
 * version and writes in one step, and "log out everywhere"
 * (`deleteSessionsByUser`) and `maxSessionsPerUser` must find a user's
 * sessions wherever they were created, also after a restart: an index kept
 * by one node would miss some, silently.
 */
export interface StoreCore {
  /** Short name shown by `/health` (`memory`, `redis`). */
  readonly name: string;
  /** Called once by the manager before any other method. */
  configure(settings: StoreSettings): void;
  /** Inserts a new session. */
  create(record: SessionRecord): Promise<void>;
  /** The session, or undefined when absent or expired. */
  get(sessionId: string, now: number): Promise<SessionRecord | undefined>;
  /** Sets `lastActivity = now`; undefined when absent or expired. */
  touch(sessionId: string, now: number): Promise<SessionRecord | undefined>;
  /**
   * Replaces the metadata (JSON text) of a live session whose metadata
   * version is `ifVersion`, in one atomic step: the version becomes
   * `ifVersion + 1` and the session is touched. Returns the new record,
   * `'conflict'` when the version is another (nothing changes), undefined
   * when absent or expired. The manager's `updateMetadata` builds on it.
   */
  replaceMetadata(
    sessionId: string,
    metadata: string,
    ifVersion: number,
    now: number,
  ): Promise<SessionRecord | 'conflict' | undefined>;
  /** Removes the session at once; returns what was removed. */
  delete(sessionId: string): Promise<SessionRecord | undefined>;
  /**
   * Replaces a live session by a new one in one atomic step: `newSessionId`
   * gets the old session's userId, conversationId and metadata, `createdAt`
   * and `lastActivity` of `now`, no requests and no connections; the old id
   * is gone at once (every read answers undefined). Returns the new record,
   * or undefined when the old session is absent or expired (nothing changes).
   * Stores that span nodes announce it to the others as a `rotated` event.
   * `newSessionId` starts with the same character as `sessionId` (the
   * manager makes it with `newSessionId(sessionId)`), so a store may shard
   * by it: the Redis store refuses ids of two shards.
   */
  rotate(
    sessionId: string,
    newSessionId: string,
    now: number,
    changes?: RotateChanges,
  ): Promise<SessionRecord | undefined>;
  /**
   * Adds a request in flight and touches; undefined when absent or expired.
   * Counts it in its window when `requestWindowMs` is configured.
   */
  addRequest(sessionId: string, requestId: string, now: number): Promise<SessionRecord | undefined>;
  /** Removes a request in flight and touches; a no-op when the session is gone. */
  removeRequest(sessionId: string, requestId: string, now: number): Promise<void>;
  /** Counts an open connection and touches; undefined when absent or expired. */
  addConnection(sessionId: string, now: number): Promise<SessionRecord | undefined>;
  /** Counts a closed connection and touches; a no-op when the session is gone. */
  removeConnection(sessionId: string, now: number): Promise<void>;
  /** Live sessions of a user, most recently active first. */
  listByUser(userId: string, now: number): Promise<SessionRecord[]>;
  /**
   * Removes expired sessions and returns them. Costs time in proportion to
   * the sessions removed, not to all sessions.
   */
  sweep(now: number): Promise<SessionRecord[]>;
  /** Number of stored sessions (call `sweep` first for an exact live count). */
  count(): Promise<number>;
  /** Resolves when the backing service answers; rejects when it does not. */
  ping(): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/**
 * Capability: idempotency records kept with the sessions, so a mutation sent
 * again with the same key (after a lost answer, on any node) gets the first
 * call's outcome instead of running twice.
 *
 * Fallback without it: the manager keeps the records on this node
 * (checking with `get` that the session lives), so a repeat that reaches
 * another node, or this one after a restart, runs again.
 */
export interface IdempotencyKeys {
  /**
   * Claims idempotency key `key` of a live session for a call with
   * `fingerprint`, in one atomic step: when the session has no live record
   * of the key, records it as pending (for `idempotencyWindowMs`) and answers
   * `new`; otherwise answers the record (`pending`, or `done` with its
   * outcome). Keys of different sessions never meet. For a session that is
   * absent or expired it answers `new` and records nothing. Records end with
   * the window, and with their session (a store may keep them until the
   * window ends, as long as no call can reach them).
   */
  claimIdempotencyKey(
    sessionId: string,
    key: string,
    fingerprint: string,
    now: number,
  ): Promise<IdempotencyClaim>;
  /**
   * Stores the outcome (opaque text) of the call that claimed `key`; the
   * record then lives `idempotencyWindowMs` from `now`. A no-op when there is
   * no record (expired, or the session ended).
   */
  completeIdempotencyKey(
    sessionId: string,
    key: string,
    outcome: string,
    now: number,
  ): Promise<void>;
  /** Drops a pending claim, so a call sent again with `key` runs afresh (the first failed transiently). */
  releaseIdempotencyKey(sessionId: string, key: string): Promise<void>;
}

/**
 * Capability: rate limits counted where the sessions live, so a limit
 * (`createRateLimit`) holds across every node that shares the store.
 *
 * Fallback without it: `memoryRateLimiter`, which counts on this node only
 * (with N nodes behind a balancer, up to N times the limit).
 */
export interface SharedRateLimits {
  /** A limiter named `name` (a key prefix) with `policy`; called once per name at start-up. */
  rateLimiter(name: string, policy: RateLimitPolicy): RateLimiter;
}

/**
 * Capability: listing the sessions of every user, for admin views.
 *
 * Fallback without it: none; `SessionManager.listSessions` answers
 * `INTERNAL_ERROR` naming the store.
 */
export interface SessionListing {
  /**
   * Up to `limit` live sessions of every user, pinned ones included, most
   * recently active first. May cost time in proportion to all sessions.
   */
  list(limit: number, now: number): Promise<SessionRecord[]>;
}

/**
 * Capability: sessions deleted, expired or rotated on other nodes, so this
 * node closes their sockets and ends their event streams at once.
 *
 * Fallback without it: this node hears only of what it did itself; its
 * sockets of a session ended elsewhere stay open, their calls answering
 * `SESSION_NOT_FOUND`, and a rotation elsewhere does not move them. A store
 * that lives in one process has no other nodes: a `subscribe` that never
 * calls its listener is exact there (`MemoryStore`'s).
 */
export interface CrossNodeEvents {
  /** Delivers events of other nodes (never this store's own). Returns the unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void;
}

/**
 * Capability: synchronous request tracking for stores in this process. The
 * manager uses it on the per-request hot path (`beginRequestSync`), saving a
 * promise and a microtask hop per HTTP request.
 *
 * Fallback without it: the asynchronous `addRequest` and `removeRequest`
 * (the same behaviour, one microtask later). Not reported as a fallback.
 */
export interface SyncRequests {
  /** `addRequest`, answered synchronously. */
  addRequestSync(sessionId: string, requestId: string, now: number): SessionRecord | undefined;
  /** `removeRequest`, done synchronously. */
  removeRequestSync(sessionId: string, requestId: string, now: number): void;
}

/** Every optional capability a store may add to `StoreCore`. */
export type StoreCapabilities = IdempotencyKeys &
  SharedRateLimits &
  SessionListing &
  CrossNodeEvents &
  SyncRequests;

/**
 * Where sessions live: the required core, plus whichever optional
 * capabilities the store has (see docs/stores.md). Where a capability is
 * missing the manager falls back to a per-node implementation, says so once
 * at start-up (`warning` event) and in `/health` (`storeFallbacks`).
 *
 * @example
 * class PostgresStore implements Store {
 *   readonly name = 'postgres';
 *   // the StoreCore methods, and any of the capabilities
 * }
 */
export type Store = StoreCore & Partial<StoreCapabilities>;
