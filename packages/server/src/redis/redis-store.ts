import { randomUUID } from 'node:crypto';
import { StoreUnavailableError } from '../errors.js';
import type { RateLimiter, RateLimitPolicy } from '../rate-limit.js';
import type { SessionRecord } from '../session.js';
import { DEFAULT_IDEMPOTENCY_WINDOW_MS } from '../store/idempotency-records.js';
import type {
  IdempotencyClaim,
  RotateChanges,
  Store,
  StoreEvent,
  StoreSettings,
} from '../store/store.js';
import { type RedisClient, StoreConnection, withTimeout } from './connection.js';
import { RedisIdempotencyRecords } from './idempotency-records.js';
import { KeyLayout, shardOf } from './key-layout.js';
import { NodeLease } from './node-lease.js';
import { redisRateLimiter } from './rate-limiter.js';
import { RecentWrites } from './recent-writes.js';
import { optionalArg, type RawFields, toRecord } from './records.js';
import { type RedisStoreOptions, redisStoreDefaults } from './redis-store-options.js';
import { type ScriptName, scripts } from './scripts.js';
import { isLive, SessionReads } from './session-reads.js';
import { SessionUpdates } from './session-updates.js';
import { EventSubscriber } from './subscriber.js';
import { RedisSweeper } from './sweeper.js';

export { type RedisStoreOptions, redisStoreDefaults } from './redis-store-options.js';

const DEFAULT_TIMEOUT_MS = 60 * 60 * 1000;

/**
 * Sessions in Redis, shared by every node that uses the same `keyPrefix`,
 * on one Redis, a master found through Redis Sentinel (`sentinels`) or a
 * Redis Cluster (see docs/redis-keys.md for the layout).
 * Each operation on a session is one round trip (one Lua script or one
 * HMGET; a touch soon after this node's last write is a plain HMGET, see
 * `touchResolutionMs`); expiry uses per-shard idle indexes for sweeps and
 * key TTLs as a backstop; `deleted`, `expired` and `rotated` travel to the
 * other nodes over pub/sub. Pins (requests in flight, open connections) are
 * recorded per node under a lease, so those of a node that died are undone
 * by the next sweep on any node; a connection is uncounted only by the node
 * that counted it.
 *
 * @example
 * const manager = new SessionManager({
 *   store: new RedisStore({ url: process.env.REDIS_URL }),
 * });
 */
export class RedisStore implements Store {
  readonly name = 'redis';
  readonly nodeId: string;
  readonly keyPrefix: string;
  readonly #keys: KeyLayout;
  readonly #connection: StoreConnection<ScriptName>;
  readonly #commandTimeoutMs: number;
  readonly #ttlGraceMs: number;
  readonly #lease: NodeLease;
  readonly #recentWrites: RecentWrites;
  readonly #reads: SessionReads;
  readonly #sweeper: RedisSweeper;
  readonly #idempotency: RedisIdempotencyRecords;
  readonly #updates: SessionUpdates;
  #timeoutMs = DEFAULT_TIMEOUT_MS;
  #ttlMs = DEFAULT_TIMEOUT_MS + redisStoreDefaults.ttlGraceMs;
  #requestWindowMs = 0;
  #idempotencyWindowMs = DEFAULT_IDEMPOTENCY_WINDOW_MS;
  #subscriber: EventSubscriber | undefined;
  #closed = false;

  constructor(options: RedisStoreOptions = {}) {
    this.keyPrefix = options.keyPrefix ?? redisStoreDefaults.keyPrefix;
    this.nodeId = options.nodeId ?? randomUUID();
    this.#keys = new KeyLayout(this.keyPrefix);
    this.#commandTimeoutMs = options.commandTimeoutMs ?? redisStoreDefaults.commandTimeoutMs;
    this.#ttlGraceMs = options.ttlGraceMs ?? redisStoreDefaults.ttlGraceMs;
    this.#recentWrites = new RecentWrites(
      options.touchResolutionMs ?? redisStoreDefaults.touchResolutionMs,
    );
    this.#connection = new StoreConnection({
      url: options.url ?? redisStoreDefaults.url,
      redis: options.redis,
      clusterNodes: options.clusterNodes,
      cluster: options.cluster,
      sentinels: options.sentinels,
      sentinelName: options.sentinelName ?? redisStoreDefaults.sentinelName,
      client: options.client,
      commandTimeoutMs: this.#commandTimeoutMs,
      scripts,
    });
    this.#lease = new NodeLease(
      this.#connection,
      this.nodeId,
      options.leaseMs ?? redisStoreDefaults.leaseMs,
    );
    const parts = { connection: this.#connection, keys: this.#keys };
    this.#reads = new SessionReads(parts, () => this.#timeoutMs);
    this.#updates = new SessionUpdates(parts, {
      nodeId: this.nodeId,
      lease: this.#lease,
      recentWrites: this.#recentWrites,
      timeoutMs: () => this.#timeoutMs,
      ttlMs: () => this.#ttlMs,
      requestWindowMs: () => this.#requestWindowMs,
    });
    this.#idempotency = new RedisIdempotencyRecords(parts, {
      windowMs: () => this.#idempotencyWindowMs,
      timeoutMs: () => this.#timeoutMs,
    });
    this.#sweeper = new RedisSweeper(parts, {
      nodeId: this.nodeId,
      sweepBatchSize: options.sweepBatchSize ?? redisStoreDefaults.sweepBatchSize,
      timeoutMs: () => this.#timeoutMs,
      ttlMs: () => this.#ttlMs,
      ended: (record) => {
        this.#recentWrites.forget(record.sessionId);
        if (record.userId !== undefined)
          void this.#reads.unindexUser(record.userId, record.sessionId);
      },
    });
  }

  configure(settings: StoreSettings): void {
    this.#timeoutMs = settings.sessionTimeoutMs;
    this.#ttlMs = Math.ceil(settings.sessionTimeoutMs + this.#ttlGraceMs);
    this.#requestWindowMs = settings.requestWindowMs ?? 0;
    this.#idempotencyWindowMs = Math.ceil(
      settings.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS,
    );
  }

  /**
   * Writes the session. A user's index gets the id first, so it never misses
   * a live session (an index entry whose session is gone is dropped by readers).
   */
  async create(record: SessionRecord): Promise<void> {
    const id = record.sessionId;
    const shard = this.#keys.shardOf(id);
    if (record.userId !== undefined) await this.#reads.indexUser(record.userId, id);
    const replaced = await this.#run(
      'morganCreate',
      this.#keys.session(id),
      shard.idle,
      shard.pinned,
      id,
      this.#ttlMs,
      optionalArg(record.userId),
      optionalArg(record.conversationId),
      record.createdAt,
      record.lastActivity,
      record.metadata,
      record.connectionCount,
      JSON.stringify(record.activeRequests),
      record.metadataVersion,
    );
    this.#recentWrites.record(id, record.lastActivity);
    if (typeof replaced === 'string' && replaced !== record.userId) {
      await this.#reads.unindexUser(replaced, id);
    }
  }

  async get(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    const fields = await this.#reads.read(sessionId);
    if (fields[2] === null) return undefined;
    const record = toRecord(sessionId, fields);
    return isLive(record, now, this.#timeoutMs) ? record : undefined;
  }

  /**
   * Runs the touch script, or only reads the session when this node wrote its
   * `lastActivity` less than `touchResolutionMs` before `now` (the record
   * returned then carries that earlier `lastActivity`).
   */
  touch(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    if (this.#recentWrites.isRecent(sessionId, now)) return this.get(sessionId, now);
    return this.#updates.update('morganTouch', sessionId, now, false);
  }

  async replaceMetadata(
    sessionId: string,
    metadata: string,
    ifVersion: number,
    now: number,
  ): Promise<SessionRecord | 'conflict' | undefined> {
    const shard = this.#keys.shardOf(sessionId);
    const reply = await this.#run(
      'morganReplaceMetadata',
      this.#keys.session(sessionId),
      shard.idle,
      shard.pinned,
      sessionId,
      now,
      this.#timeoutMs,
      this.#ttlMs,
      metadata,
      ifVersion,
    );
    if (reply === 'conflict') return 'conflict';
    if (!Array.isArray(reply)) return undefined;
    this.#recentWrites.record(sessionId, now);
    return toRecord(sessionId, reply as RawFields);
  }

  async delete(sessionId: string): Promise<SessionRecord | undefined> {
    const shard = this.#keys.shardOf(sessionId);
    const reply = await this.#run(
      'morganDelete',
      this.#keys.session(sessionId),
      shard.idle,
      shard.pinned,
      sessionId,
      this.nodeId,
      this.#keys.storeEvents,
    );
    this.#recentWrites.forget(sessionId);
    if (reply === null) return undefined;
    const record = toRecord(sessionId, reply as RawFields);
    if (record.userId !== undefined) await this.#reads.unindexUser(record.userId, sessionId);
    return record;
  }

  /**
   * Replaces the session by `newSessionId`, which must be in the same shard
   * (the same first character: `SessionManager.rotateSession` makes it so),
   * as one script. The new id enters its user's index before the script runs.
   */
  async rotate(
    sessionId: string,
    newSessionId: string,
    now: number,
    changes: RotateChanges = {},
  ): Promise<SessionRecord | undefined> {
    if (shardOf(sessionId) !== shardOf(newSessionId)) {
      throw new Error(
        'RedisStore.rotate: the new session id must start with the same character as the old one (its shard)',
      );
    }
    const shard = this.#keys.shardOf(sessionId);
    const oldKey = this.#keys.session(sessionId);
    const user =
      changes.userId ??
      (await this.#connection.call(() => this.#connection.client.hget(oldKey, 'u'))) ??
      undefined;
    if (user !== undefined) await this.#reads.indexUser(user, newSessionId);
    const reply = (await this.#run(
      'morganRotate',
      oldKey,
      this.#keys.session(newSessionId),
      shard.idle,
      shard.pinned,
      sessionId,
      newSessionId,
      now,
      this.#timeoutMs,
      this.#ttlMs,
      this.nodeId,
      this.#keys.storeEvents,
      optionalArg(changes.userId),
    )) as (string | null)[] | null;
    this.#recentWrites.forget(sessionId);
    if (reply === null) {
      if (user !== undefined) await this.#reads.unindexUser(user, newSessionId);
      return undefined;
    }
    this.#recentWrites.record(newSessionId, now);
    const record = toRecord(newSessionId, reply.slice(0, 8));
    // The user changed between the read and the script (another rotation).
    if (record.userId !== undefined && record.userId !== user) {
      await this.#reads.indexUser(record.userId, newSessionId);
    }
    const oldUser = reply[8];
    if (typeof oldUser === 'string') await this.#reads.unindexUser(oldUser, sessionId);
    return record;
  }

  /** Adds a request in flight; a failed add is undone (see `SessionUpdates`). */
  addRequest(
    sessionId: string,
    requestId: string,
    now: number,
  ): Promise<SessionRecord | undefined> {
    return this.#updates.addRequest(sessionId, requestId, now);
  }

  removeRequest(sessionId: string, requestId: string, now: number): Promise<void> {
    return this.#updates.removeRequest(sessionId, requestId, now);
  }

  /** Counts an open connection; one that timed out is undone (see `SessionUpdates`). */
  addConnection(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    return this.#updates.addConnection(sessionId, now);
  }

  removeConnection(sessionId: string, now: number): Promise<void> {
    return this.#updates.removeConnection(sessionId, now);
  }

  /** One script on the key's record and the session's hash (one slot). */
  claimIdempotencyKey(
    sessionId: string,
    key: string,
    fingerprint: string,
    now: number,
  ): Promise<IdempotencyClaim> {
    return this.#idempotency.claim(sessionId, key, fingerprint, now);
  }

  completeIdempotencyKey(
    sessionId: string,
    key: string,
    outcome: string,
    _now: number,
  ): Promise<void> {
    return this.#idempotency.complete(sessionId, key, outcome);
  }

  releaseIdempotencyKey(sessionId: string, key: string): Promise<void> {
    return this.#idempotency.release(sessionId, key);
  }

  /** The user's live sessions (the user's index, one HMGET per entry; stale entries dropped). */
  listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    return this.#reads.listByUser(userId, now);
  }

  /** Up to `limit` live sessions, most recently active first (pinned plus 16 × `limit` reads). */
  list(limit: number, now: number): Promise<SessionRecord[]> {
    return this.#reads.list(limit, now);
  }

  /** Undoes the pins of nodes whose lease lapsed, then ends sessions idle past the timeout. */
  sweep(now: number): Promise<SessionRecord[]> {
    return this.#sweeper.sweep(now);
  }

  /** Sessions in the store: idle and pinned, counted per shard. */
  count(): Promise<number> {
    return this.#reads.count();
  }

  /** A limiter counting in this Redis: every node sharing the store shares the counts. */
  rateLimiter(name: string, policy: RateLimitPolicy): RateLimiter {
    return redisRateLimiter({ connection: this.#connection, keys: this.#keys }, name, policy);
  }

  /**
   * The store's command connection (a `Cluster` on Redis Cluster), set up to
   * fail fast during an outage and to reconnect by itself. Borrow it for app
   * data that should live and fail with the sessions (the store closes it in
   * `close()` unless it was passed in `options.client`).
   *
   * @example
   * await store.client.incr(`${store.keyPrefix}visits:${sessionId}`);
   */
  get client(): RedisClient {
    return this.#connection.client;
  }

  async ping(): Promise<void> {
    await this.#connection.call(() => this.#connection.client.ping());
  }

  /**
   * Resolves when Redis answers and, after `subscribe`, the subscription is
   * acknowledged; rejects with `StoreUnavailableError` within `commandTimeoutMs` otherwise.
   */
  async ready(): Promise<void> {
    await this.ping();
    const subscriber = this.#subscriber;
    if (subscriber === undefined) return;
    await withTimeout(subscriber.subscribed(), this.#commandTimeoutMs, () => {
      throw new StoreUnavailableError('Redis did not acknowledge the events subscription');
    });
  }

  /**
   * Delivers `deleted`, `expired` and `rotated` events published by other nodes. Opens a
   * second connection (pub/sub needs its own) on first use.
   */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    if (this.#closed) throw new StoreUnavailableError('RedisStore is closed');
    this.#subscriber ??= new EventSubscriber(
      this.#connection.client,
      this.#keys.storeEvents,
      this.nodeId,
    );
    return this.#subscriber.add(listener);
  }

  /**
   * Releases this node's lease (pins still held are undone by the next sweep
   * on another node) and closes the store's connections (not a client passed
   * in `options.client`).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#lease.release();
    await Promise.all([this.#subscriber?.close(), this.#connection.close()]);
  }

  #run(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return this.#connection.run(name, ...args);
  }
}
