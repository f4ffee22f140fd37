import { randomUUID } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../errors.js';
import {
  flexibleRateLimiter,
  type RateLimiter,
  type RateLimitPolicy,
  seconds,
} from '../rate-limit.js';
import type { SessionRecord } from '../session.js';
import type { RotateChanges, Store, StoreEvent, StoreSettings } from '../store/store.js';
import { StoreConnection, withTimeout } from './connection.js';
import { NodeLease } from './node-lease.js';
import { RecentWrites } from './recent-writes.js';
import { optionalArg, type RawFields, toRecord, toRecords } from './records.js';
import { type ScriptName, scripts } from './scripts.js';
import { EventSubscriber } from './subscriber.js';

/** Options of a `RedisStore`. */
export interface RedisStoreOptions {
  /** Redis URL (`redis://[:password@]host:port[/db]`, `rediss://` for TLS). @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** ioredis options, merged over the store's fail-fast defaults. @default {} */
  redis?: RedisOptions;
  /**
   * An ioredis client to use instead of `url`. The store does not close it,
   * and its own settings (offline queue, timeouts) decide how it fails.
   * @default undefined (the store opens and owns its connection)
   */
  client?: Redis;
  /** Prefix of every key and of the events channel; nodes sharing sessions use the same one. @default 'morgan:' */
  keyPrefix?: string;
  /** This node's id; events it publishes are not delivered back to it. @default crypto.randomUUID() */
  nodeId?: string;
  /**
   * Longest wait for a Redis reply, and for the first connection, in ms.
   * While Redis is unreachable operations reject at once with
   * `StoreUnavailableError` (`STORE_UNAVAILABLE`); the client reconnects by itself.
   * @default 1_000
   */
  commandTimeoutMs?: number;
  /**
   * Extra life of an idle session's key past the session timeout, in ms. Redis
   * frees the key after `sessionTimeoutMs + ttlGraceMs` even when no node
   * sweeps; keep it above the cleanup interval so a sweep announces each expiry.
   * @default 600_000 (10 min)
   */
  ttlGraceMs?: number;
  /** Sessions removed per sweep script call (one call per batch). @default 1_000 */
  sweepBatchSize?: number;
  /**
   * Life of this node's lease, in ms, re-armed every third of it while the
   * node runs. When a node dies (kill -9, frozen) with requests in flight or
   * sockets open, the first sweep after its lease lapses, on any node, undoes
   * those pins, so its sessions expire again and counts are right.
   * @default 15_000
   */
  leaseMs?: number;
  /**
   * Touch coalescing, in ms. When this node wrote a session's `lastActivity`
   * (by a touch, a request, a connection or `create`) less than this long
   * before, `touch(id, now)` only reads the session (one HMGET, as `get`
   * does, expiry checked here) and writes nothing; otherwise it runs the
   * touch script. Most touches of a busy session then cost a plain read
   * instead of a script with writes.
   *
   * The trade-off: `lastActivity` in Redis, and in the record a coalesced
   * touch returns, may lag the last touch by up to this much, so an idle
   * session may expire up to this much early. The WebSocket layer already
   * throttles its touches to one per `touchIntervalMs` (1 s) for the same
   * reason. `0` runs the script on every touch.
   * @default 1_000
   */
  touchResolutionMs?: number;
}

export const redisStoreDefaults = {
  url: 'redis://127.0.0.1:6379',
  keyPrefix: 'morgan:',
  commandTimeoutMs: 1_000,
  ttlGraceMs: 10 * 60 * 1000,
  sweepBatchSize: 1_000,
  leaseMs: 15_000,
  touchResolutionMs: 1_000,
} as const;

const DEFAULT_TIMEOUT_MS = 60 * 60 * 1000;

/**
 * Sessions in Redis, shared by every node that uses the same `keyPrefix`.
 * Each operation is one round trip (one Lua script or one HMGET; a touch
 * soon after this node's last write is a plain HMGET, see
 * `touchResolutionMs`); expiry uses an idle index for sweeps and key TTLs as
 * a backstop; `deleted`, `expired` and `rotated` travel to the other nodes over pub/sub.
 * Pins (requests in flight, open connections) are recorded per node under a
 * lease, so those of a node that died are undone by the next sweep on any
 * node; a connection is uncounted only by the node that counted it.
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
  readonly #connection: StoreConnection<ScriptName>;
  readonly #commandTimeoutMs: number;
  readonly #ttlGraceMs: number;
  readonly #sweepBatchSize: number;
  readonly #idleKey: string;
  readonly #pinnedKey: string;
  readonly #channel: string;
  readonly #pinsKey: string;
  readonly #nodesKey: string;
  readonly #lease: NodeLease;
  readonly #recentWrites: RecentWrites;
  #timeoutMs = DEFAULT_TIMEOUT_MS;
  #ttlMs = DEFAULT_TIMEOUT_MS + redisStoreDefaults.ttlGraceMs;
  #subscriber: EventSubscriber | undefined;
  #closed = false;

  constructor(options: RedisStoreOptions = {}) {
    this.keyPrefix = options.keyPrefix ?? redisStoreDefaults.keyPrefix;
    this.nodeId = options.nodeId ?? randomUUID();
    this.#commandTimeoutMs = options.commandTimeoutMs ?? redisStoreDefaults.commandTimeoutMs;
    this.#ttlGraceMs = options.ttlGraceMs ?? redisStoreDefaults.ttlGraceMs;
    this.#sweepBatchSize = options.sweepBatchSize ?? redisStoreDefaults.sweepBatchSize;
    this.#idleKey = `${this.keyPrefix}idle`;
    this.#pinnedKey = `${this.keyPrefix}pinned`;
    this.#channel = `${this.keyPrefix}events`;
    this.#pinsKey = `${this.keyPrefix}pins:${this.nodeId}`;
    this.#nodesKey = `${this.keyPrefix}nodes`;
    this.#recentWrites = new RecentWrites(
      options.touchResolutionMs ?? redisStoreDefaults.touchResolutionMs,
    );
    this.#connection = new StoreConnection({
      url: options.url ?? redisStoreDefaults.url,
      redis: options.redis,
      client: options.client,
      commandTimeoutMs: this.#commandTimeoutMs,
      scripts,
    });
    this.#lease = new NodeLease(
      this.#connection,
      `${this.keyPrefix}node:${this.nodeId}`,
      options.leaseMs ?? redisStoreDefaults.leaseMs,
    );
  }

  configure(settings: StoreSettings): void {
    this.#timeoutMs = settings.sessionTimeoutMs;
    this.#ttlMs = Math.ceil(settings.sessionTimeoutMs + this.#ttlGraceMs);
  }

  async create(record: SessionRecord): Promise<void> {
    const id = record.sessionId;
    await this.#run(
      'morganCreate',
      this.#key(id),
      this.#idleKey,
      this.#pinnedKey,
      this.keyPrefix,
      id,
      this.#ttlMs,
      optionalArg(record.userId),
      optionalArg(record.conversationId),
      record.createdAt,
      record.lastActivity,
      record.metadata,
      record.connectionCount,
      JSON.stringify(record.activeRequests),
    );
    this.#recentWrites.record(id, record.lastActivity);
  }

  async get(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    const fields = await this.#connection.call(() =>
      this.#connection.client.hmget(this.#key(sessionId), 'u', 'c', 'ca', 'la', 'm', 'cc', 'r'),
    );
    if (fields[2] === null) return undefined;
    const record = toRecord(sessionId, fields);
    const pinned = record.connectionCount > 0 || record.activeRequests.length > 0;
    if (!pinned && now - record.lastActivity > this.#timeoutMs) return undefined;
    return record;
  }

  /**
   * Runs the touch script, or only reads the session when this node wrote its
   * `lastActivity` less than `touchResolutionMs` before `now` (the record
   * returned then carries that earlier `lastActivity`).
   */
  touch(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    if (this.#recentWrites.isRecent(sessionId, now)) return this.get(sessionId, now);
    return this.#update('morganTouch', sessionId, now, false);
  }

  async delete(sessionId: string): Promise<SessionRecord | undefined> {
    const reply = await this.#run(
      'morganDelete',
      this.#key(sessionId),
      this.#idleKey,
      this.#pinnedKey,
      this.keyPrefix,
      sessionId,
      this.nodeId,
      this.#channel,
    );
    this.#recentWrites.forget(sessionId);
    return reply === null ? undefined : toRecord(sessionId, reply as RawFields);
  }

  async rotate(
    sessionId: string,
    newSessionId: string,
    now: number,
    changes: RotateChanges = {},
  ): Promise<SessionRecord | undefined> {
    const reply = await this.#run(
      'morganRotate',
      this.#key(sessionId),
      this.#key(newSessionId),
      this.#idleKey,
      this.#pinnedKey,
      this.keyPrefix,
      sessionId,
      newSessionId,
      now,
      this.#timeoutMs,
      this.#ttlMs,
      this.nodeId,
      this.#channel,
      optionalArg(changes.userId),
    );
    this.#recentWrites.forget(sessionId);
    if (reply === null) return undefined;
    this.#recentWrites.record(newSessionId, now);
    return toRecord(newSessionId, reply as RawFields);
  }

  /**
   * Adds a request in flight. When the call fails (a slow Redis that did not
   * answer in `commandTimeoutMs`, a dropped connection), the script may still
   * run on Redis afterwards and pin the session for good; so a failed add is
   * followed by its undo on the same connection, which Redis runs after it
   * (removing a request id is idempotent).
   */
  addRequest(
    sessionId: string,
    requestId: string,
    now: number,
  ): Promise<SessionRecord | undefined> {
    return this.#update('morganAddRequest', sessionId, now, true, requestId).catch(
      (error: unknown) => {
        this.#update('morganRemoveRequest', sessionId, now, true, requestId).catch(() => {});
        throw error;
      },
    );
  }

  async removeRequest(sessionId: string, requestId: string, now: number): Promise<void> {
    await this.#update('morganRemoveRequest', sessionId, now, true, requestId);
  }

  /**
   * Counts an open connection. A count that timed out was sent and may still
   * run on Redis, so it is followed by its undo on the same connection
   * (which Redis runs after it). Only after a timeout: when the command may
   * never have been sent, an undo could uncount another socket of the session.
   */
  addConnection(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    return this.#update('morganAddConnection', sessionId, now, true).catch((error: unknown) => {
      if (isTimeout(error)) {
        this.#update('morganRemoveConnection', sessionId, now, true).catch(() => {});
      }
      throw error;
    });
  }

  async removeConnection(sessionId: string, now: number): Promise<void> {
    await this.#update('morganRemoveConnection', sessionId, now, true);
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const reply = await this.#run(
      'morganListByUser',
      `${this.keyPrefix}u:${userId}`,
      this.keyPrefix,
      now,
      this.#timeoutMs,
    );
    return toRecords(reply).sort((x, y) => y.lastActivity - x.lastActivity);
  }

  /**
   * Up to `limit` live sessions, most recently active first, in one round
   * trip whose cost is the number of pinned sessions plus `limit`.
   */
  async list(limit: number, now: number): Promise<SessionRecord[]> {
    const count = Math.max(0, Math.floor(limit));
    const reply = await this.#run(
      'morganList',
      this.#idleKey,
      this.#pinnedKey,
      this.keyPrefix,
      now - this.#timeoutMs,
      count,
    );
    return toRecords(reply)
      .sort((x, y) => y.lastActivity - x.lastActivity)
      .slice(0, count);
  }

  async sweep(now: number): Promise<SessionRecord[]> {
    const removed: SessionRecord[] = [];
    const cutoff = now - this.#timeoutMs;
    for (;;) {
      const batch = toRecords(
        await this.#run(
          'morganSweep',
          this.#idleKey,
          this.keyPrefix,
          cutoff,
          this.#sweepBatchSize,
          this.nodeId,
          this.#channel,
          this.#ttlMs,
        ),
      );
      for (const record of batch) this.#recentWrites.forget(record.sessionId);
      removed.push(...batch);
      if (batch.length < this.#sweepBatchSize) return removed;
    }
  }

  async count(): Promise<number> {
    return Number(await this.#run('morganCount', this.#idleKey, this.#pinnedKey));
  }

  /**
   * The store's command connection, set up to fail fast during an outage and
   * to reconnect by itself. Borrow it for app data that should live and fail
   * with the sessions (the store closes it in `close()` unless it was passed in
   * `options.client`).
   *
   * @example
   * await store.client.incr(`${store.keyPrefix}visits:${sessionId}`);
   */
  /**
   * A limiter counting in this Redis (`rate-limiter-flexible`), under the
   * key prefix: every node sharing the store shares the counts. A Redis
   * failure rejects with `STORE_UNAVAILABLE`.
   */
  rateLimiter(name: string, policy: RateLimitPolicy): RateLimiter {
    const limiter = flexibleRateLimiter(
      new RateLimiterRedis({
        storeClient: this.#connection.client,
        keyPrefix: `${this.keyPrefix}rl:${name}`,
        points: policy.limit,
        duration: seconds(policy),
      }),
      policy,
    );
    return { policy, consume: (key) => this.#connection.call(() => limiter.consume(key)) };
  }

  get client(): Redis {
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
    this.#subscriber ??= new EventSubscriber(this.#connection.client, this.#channel, this.nodeId);
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

  #key(sessionId: string): string {
    return `${this.keyPrefix}s:${sessionId}`;
  }

  async #update(
    name: ScriptName,
    sessionId: string,
    now: number,
    pins: boolean,
    requestId?: string,
  ): Promise<SessionRecord | undefined> {
    const keys = [this.#key(sessionId), this.#idleKey, this.#pinnedKey];
    const args: (string | number)[] = [
      this.keyPrefix,
      sessionId,
      now,
      this.#timeoutMs,
      this.#ttlMs,
    ];
    if (pins) {
      keys.push(this.#pinsKey, this.#lease.key, this.#nodesKey);
      args.push(this.nodeId, this.#lease.leaseMs, requestId ?? '');
      this.#lease.keep();
    }
    const reply = await this.#run(name, ...keys, ...args);
    // Every script that answers (fields or 1) has set lastActivity to >= now.
    if (reply !== null) this.#recentWrites.record(sessionId, now);
    return Array.isArray(reply) ? toRecord(sessionId, reply as RawFields) : undefined;
  }

  #run(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return this.#connection.run(name, ...args);
  }
}

/** True when a Redis command was sent but not answered within the command timeout. */
function isTimeout(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error && cause.message === 'Command timed out';
}
