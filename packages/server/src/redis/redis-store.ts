import { randomUUID } from 'node:crypto';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../errors.js';
import {
  flexibleRateLimiter,
  type RateLimiter,
  type RateLimitPolicy,
  seconds,
} from '../rate-limit.js';
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
import { KeyLayout, type ShardKeys, shardOf } from './key-layout.js';
import { NodeLease } from './node-lease.js';
import { RecentWrites } from './recent-writes.js';
import { optionalArg, type RawFields, toRecord, toRecords } from './records.js';
import { FIELDS, type ScriptName, scripts } from './scripts.js';
import { EventSubscriber } from './subscriber.js';

/** Options of a `RedisStore`. */
export interface RedisStoreOptions {
  /** Redis URL (`redis://[:password@]host:port[/db]`, `rediss://` for TLS). @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** ioredis options, merged over the store's fail-fast defaults. @default {} */
  redis?: RedisOptions;
  /**
   * Redis Cluster nodes (`host:port`, a few are enough: the rest are
   * discovered) to connect to instead of `url`; the demo reads them from
   * `REDIS_CLUSTER_NODES`. `redis` then applies to each node's connection.
   * @default undefined (one Redis at `url`)
   */
  clusterNodes?: readonly string[];
  /** ioredis `Cluster` options, merged over the store's fail-fast defaults. @default {} */
  cluster?: ClusterOptions;
  /**
   * An ioredis client (`Redis`, or `Cluster` for Redis Cluster) to use
   * instead of `url`. The store does not close it, and its own settings
   * (offline queue, timeouts) decide how it fails.
   * @default undefined (the store opens and owns its connection)
   */
  client?: RedisClient;
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
 * Sessions in Redis, shared by every node that uses the same `keyPrefix`,
 * on one Redis or a Redis Cluster (see docs/redis-keys.md for the layout).
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
  readonly #sweepBatchSize: number;
  readonly #lease: NodeLease;
  readonly #recentWrites: RecentWrites;
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
    this.#sweepBatchSize = options.sweepBatchSize ?? redisStoreDefaults.sweepBatchSize;
    this.#recentWrites = new RecentWrites(
      options.touchResolutionMs ?? redisStoreDefaults.touchResolutionMs,
    );
    this.#connection = new StoreConnection({
      url: options.url ?? redisStoreDefaults.url,
      redis: options.redis,
      clusterNodes: options.clusterNodes,
      cluster: options.cluster,
      client: options.client,
      commandTimeoutMs: this.#commandTimeoutMs,
      scripts,
    });
    this.#lease = new NodeLease(
      this.#connection,
      this.nodeId,
      options.leaseMs ?? redisStoreDefaults.leaseMs,
    );
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
    if (record.userId !== undefined) await this.#indexUser(record.userId, id);
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
      await this.#unindexUser(replaced, id);
    }
  }

  async get(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    const fields = await this.#read(sessionId);
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
    return this.#update('morganTouch', sessionId, now, false);
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
    if (record.userId !== undefined) await this.#unindexUser(record.userId, sessionId);
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
    if (user !== undefined) await this.#indexUser(user, newSessionId);
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
      if (user !== undefined) await this.#unindexUser(user, newSessionId);
      return undefined;
    }
    this.#recentWrites.record(newSessionId, now);
    const record = toRecord(newSessionId, reply.slice(0, 8));
    // The user changed between the read and the script (another rotation).
    if (record.userId !== undefined && record.userId !== user) {
      await this.#indexUser(record.userId, newSessionId);
    }
    const oldUser = reply[8];
    if (typeof oldUser === 'string') await this.#unindexUser(oldUser, sessionId);
    return record;
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

  /**
   * One script on the key's record and the session's hash (one slot): the
   * record, or a new pending claim for a live session. See
   * `idempotency-scripts.ts` for the record's format.
   */
  async claimIdempotencyKey(
    sessionId: string,
    key: string,
    fingerprint: string,
    now: number,
  ): Promise<IdempotencyClaim> {
    const reply = await this.#run(
      'morganIdemClaim',
      this.#keys.idempotencyKey(sessionId, key),
      this.#keys.session(sessionId),
      fingerprint,
      this.#idempotencyWindowMs,
      now,
      this.#timeoutMs,
    );
    return typeof reply === 'string' ? parseIdempotencyRecord(reply) : { state: 'new' };
  }

  async completeIdempotencyKey(
    sessionId: string,
    key: string,
    outcome: string,
    _now: number,
  ): Promise<void> {
    await this.#run(
      'morganIdemComplete',
      this.#keys.idempotencyKey(sessionId, key),
      outcome,
      this.#idempotencyWindowMs,
    );
  }

  async releaseIdempotencyKey(sessionId: string, key: string): Promise<void> {
    await this.#run('morganIdemRelease', this.#keys.idempotencyKey(sessionId, key));
  }

  /**
   * The user's live sessions, from the user's index and one HMGET per entry;
   * entries whose session ended (or went to another user) are dropped from
   * the index on the way.
   */
  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const indexKey = this.#keys.user(userId);
    const ids = await this.#connection.call(() => this.#connection.client.smembers(indexKey));
    const records = await this.#readAll(ids);
    const live: SessionRecord[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const record = records[i];
      if (record === undefined || record.userId !== userId) stale.push(id);
      else if (isLive(record, now, this.#timeoutMs)) live.push(record);
    });
    if (stale.length > 0) {
      this.#connection.call(() => this.#connection.client.srem(indexKey, ...stale)).catch(() => {});
    }
    return live.sort((x, y) => y.lastActivity - x.lastActivity);
  }

  /**
   * Up to `limit` live sessions, most recently active first: from each shard
   * its pinned sessions and its `limit` most recently active idle ones, so
   * the cost is the number of pinned sessions plus 16 × `limit` reads.
   */
  async list(limit: number, now: number): Promise<SessionRecord[]> {
    const count = Math.max(0, Math.floor(limit));
    const cutoff = now - this.#timeoutMs;
    const client = this.#connection.client;
    const perShard = await Promise.all(
      this.#keys.shards.map((shard) =>
        this.#connection.call(async () => {
          const [pinned, idle] = await Promise.all([
            client.smembers(shard.pinned),
            count === 0
              ? Promise.resolve([])
              : client.zrevrangebyscore(shard.idle, '+inf', cutoff, 'LIMIT', 0, count),
          ]);
          return [...pinned, ...idle];
        }),
      ),
    );
    const records = await this.#readAll(perShard.flat());
    return records
      .filter((record): record is SessionRecord => record !== undefined)
      .sort((x, y) => y.lastActivity - x.lastActivity)
      .slice(0, count);
  }

  /**
   * Visits every shard (in parallel): first undoes the pins of nodes whose
   * lease lapsed there, then ends the sessions idle past the timeout, oldest
   * first, `sweepBatchSize` per script call.
   */
  async sweep(now: number): Promise<SessionRecord[]> {
    const cutoff = now - this.#timeoutMs;
    const removed = await Promise.all(
      this.#keys.shards.map(async (shard) => {
        await this.#reapLapsedNodes(shard);
        return this.#expireIdle(shard, cutoff);
      }),
    );
    return removed.flat();
  }

  async count(): Promise<number> {
    const client = this.#connection.client;
    const counts = await Promise.all(
      this.#keys.shards.map((shard) =>
        this.#connection.call(() =>
          Promise.all([client.zcard(shard.idle), client.scard(shard.pinned)]),
        ),
      ),
    );
    return counts.reduce((sum, [idle, pinned]) => sum + idle + pinned, 0);
  }

  /**
   * A limiter counting in this Redis (`rate-limiter-flexible`), under the
   * key prefix: every node sharing the store shares the counts. A Redis
   * failure rejects with `STORE_UNAVAILABLE`.
   */
  rateLimiter(name: string, policy: RateLimitPolicy): RateLimiter {
    const limiter = flexibleRateLimiter(
      new RateLimiterRedis({
        storeClient: this.#connection.client,
        keyPrefix: this.#keys.rateLimit(name),
        points: policy.limit,
        duration: seconds(policy),
      }),
      policy,
    );
    return { policy, consume: (key) => this.#connection.call(() => limiter.consume(key)) };
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

  #read(sessionId: string): Promise<RawFields> {
    return this.#connection.call(() =>
      this.#connection.client.hmget(this.#keys.session(sessionId), ...FIELDS),
    );
  }

  /** The records of `ids` (undefined where the hash is gone), one HMGET each, all sent at once. */
  async #readAll(ids: readonly string[]): Promise<(SessionRecord | undefined)[]> {
    const replies = await Promise.all(ids.map((id) => this.#read(id)));
    return replies.map((fields, i) =>
      fields[2] === null ? undefined : toRecord(ids[i] as string, fields),
    );
  }

  #indexUser(userId: string, sessionId: string): Promise<number> {
    return this.#connection.call(() =>
      this.#connection.client.sadd(this.#keys.user(userId), sessionId),
    );
  }

  /** Drops an index entry, best effort: readers drop entries whose session is gone anyway. */
  async #unindexUser(userId: string, sessionId: string): Promise<void> {
    await this.#connection
      .call(() => this.#connection.client.srem(this.#keys.user(userId), sessionId))
      .catch(() => {});
  }

  /** Ends the shard's sessions idle since before `cutoff`, in batches; returns them. */
  async #expireIdle(shard: ShardKeys, cutoff: number): Promise<SessionRecord[]> {
    const removed: SessionRecord[] = [];
    const client = this.#connection.client;
    for (;;) {
      const ids = await this.#connection.call(() =>
        client.zrangebyscore(shard.idle, '-inf', `(${cutoff}`, 'LIMIT', 0, this.#sweepBatchSize),
      );
      if (ids.length === 0) return removed;
      const batch = toRecords(
        await this.#run(
          'morganExpire',
          1 + ids.length,
          shard.idle,
          ...ids.map((id) => this.#keys.session(id)),
          cutoff,
          this.nodeId,
          this.#keys.storeEvents,
          ...ids,
        ),
      );
      for (const record of batch) {
        this.#recentWrites.forget(record.sessionId);
        if (record.userId !== undefined) void this.#unindexUser(record.userId, record.sessionId);
      }
      removed.push(...batch);
      if (ids.length < this.#sweepBatchSize) return removed;
    }
  }

  /** Undoes, in this shard, the pins of every node whose lease there has lapsed. */
  async #reapLapsedNodes(shard: ShardKeys): Promise<void> {
    const client = this.#connection.client;
    const nodes = await this.#connection.call(() => client.smembers(shard.nodes));
    await Promise.all(
      nodes.map(async (node) => {
        const leased = await this.#connection.call(() => client.exists(shard.lease(node)));
        if (leased === 1) return;
        const pins = await this.#connection.call(() => client.hkeys(shard.pins(node)));
        const ids = [...new Set(pins.map(pinnedSessionId))];
        await this.#run(
          'morganReap',
          5 + ids.length,
          shard.pins(node),
          shard.nodes,
          shard.lease(node),
          shard.idle,
          shard.pinned,
          ...ids.map((id) => this.#keys.session(id)),
          node,
          this.#ttlMs,
          ...ids,
        );
      }),
    );
  }

  async #update(
    name: ScriptName,
    sessionId: string,
    now: number,
    pins: boolean,
    requestId?: string,
  ): Promise<SessionRecord | undefined> {
    const shard = this.#keys.shardOf(sessionId);
    const keys = [this.#keys.session(sessionId), shard.idle, shard.pinned];
    const args: (string | number)[] = [sessionId, now, this.#timeoutMs, this.#ttlMs];
    if (pins) {
      const lease = shard.lease(this.nodeId);
      keys.push(shard.pins(this.nodeId), lease, shard.nodes);
      args.push(this.nodeId, this.#lease.leaseMs, requestId ?? '');
      if (name === 'morganAddRequest') args.push(this.#requestWindowMs);
      this.#lease.keep(lease, shard.nodes);
    }
    const reply = await this.#run(name, ...keys, ...args);
    // Every script that answers (fields or 1) has set lastActivity to >= now.
    if (reply !== null) this.#recentWrites.record(sessionId, now);
    if (!Array.isArray(reply)) return undefined;
    const fields = reply as RawFields;
    const record = toRecord(sessionId, fields);
    if (fields.length > 9) {
      record.requestWindow = Number(fields[8]);
      record.requestsInWindow = Number(fields[9]);
    }
    return record;
  }

  #run(name: ScriptName, ...args: (string | number)[]): Promise<unknown> {
    return this.#connection.run(name, ...args);
  }
}

/** A key's record: `p<fingerprint>` (pending) or `d<fingerprint>\n<outcome>` (done). */
function parseIdempotencyRecord(value: string): IdempotencyClaim {
  if (value.startsWith('p')) return { state: 'pending', fingerprint: value.slice(1) };
  const end = value.indexOf('\n');
  return { state: 'done', fingerprint: value.slice(1, end), outcome: value.slice(end + 1) };
}

/** A pinned session lives; an idle one while it is no older than the timeout. */
function isLive(record: SessionRecord, now: number, timeoutMs: number): boolean {
  const pinned = record.connectionCount > 0 || record.activeRequests.length > 0;
  return pinned || now - record.lastActivity <= timeoutMs;
}

/** The session id of a pin field: "c\t<id>" or "r\t<id>\t<request id>". */
function pinnedSessionId(field: string): string {
  const end = field.indexOf('\t', 2);
  return end === -1 ? field.slice(2) : field.slice(2, end);
}

/** True when a Redis command was sent but not answered within the command timeout. */
function isTimeout(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error && cause.message === 'Command timed out';
}
