// Where the RedisStore and RedisEventLog keep things, for one Redis and for
// Redis Cluster alike. docs/redis-keys.md describes the layout for users.
//
// Every script touches one hash slot: the keys of a session and the indexes
// it is listed in carry the same hash tag `{s<shard>}`, its shard being the
// first hex digit of its id (session ids are UUIDs). So there are SHARDS
// slots of sessions, spread over the masters, and a rotated session keeps its
// shard (`newSessionId(sameShardAs)` keeps the first character). Work across
// shards (the sweep, counts, lists, a user's sessions) visits every shard,
// one script or command per shard. The keys of a session's event stream are
// tagged by the session id itself; a user's index by the user id.
//
// A `keyPrefix` that itself contains a `{…}` hash tag puts every key in that
// one slot (Redis hashes the first tag of a key): fine on one Redis or to pin
// a deployment to one master, never needed.

/** Number of session shards: one per leading hex digit of a session id. */
export const SHARDS = 16;

/** Every shard number, 0 … SHARDS - 1. */
export const ALL_SHARDS: readonly number[] = Array.from({ length: SHARDS }, (_, shard) => shard);

/**
 * The shard of a session id: the value of its first hex digit. Any other
 * first character (ids from a client are checked before they reach a store,
 * but a store accepts any string) maps by its code, so every id has one.
 */
export function shardOf(sessionId: string): number {
  const code = sessionId.charCodeAt(0);
  if (code >= 0x30 && code <= 0x39) return code - 0x30; // 0-9
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10; // a-f
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10; // A-F
  return (code >>> 0) % SHARDS;
}

/** The keys of one shard: its sessions' indexes and the pins and leases of nodes in it. */
export interface ShardKeys {
  readonly shard: number;
  /** zset: unpinned session ids scored by last activity (sweep order). */
  readonly idle: string;
  /** set: session ids with requests in flight or open connections. */
  readonly pinned: string;
  /** set: nodes that may hold pins in this shard. */
  readonly nodes: string;
  /** hash: the pins `node` holds in this shard. */
  pins(node: string): string;
  /** string: `node`'s lease in this shard. */
  lease(node: string): string;
}

/** The key names under one prefix. */
export class KeyLayout {
  readonly prefix: string;
  readonly #shards: ShardKeys[];

  constructor(prefix: string) {
    this.prefix = prefix;
    this.#shards = ALL_SHARDS.map((shard) => {
      const tag = `${prefix}{s${shard}}`;
      return {
        shard,
        idle: `${tag}idle`,
        pinned: `${tag}pinned`,
        nodes: `${tag}nodes`,
        pins: (node: string) => `${tag}pins:${node}`,
        lease: (node: string) => `${tag}node:${node}`,
      };
    });
  }

  /** hash: the session's fields. */
  session(sessionId: string): string {
    return `${this.prefix}{s${shardOf(sessionId)}}s:${sessionId}`;
  }

  /** string: the record of a session's idempotency key (in the session's shard). */
  idempotencyKey(sessionId: string, key: string): string {
    return `${this.prefix}{s${shardOf(sessionId)}}k:${sessionId}:${key}`;
  }

  /** The keys of the session's shard. */
  shardOf(sessionId: string): ShardKeys {
    return this.#shards[shardOf(sessionId)] as ShardKeys;
  }

  /** Every shard's keys. */
  get shards(): readonly ShardKeys[] {
    return this.#shards;
  }

  /** set: a user's session ids (may name sessions that ended; readers check). */
  user(userId: string): string {
    return `${this.prefix}{u:${userId}}`;
  }

  /** Channel of `deleted`, `expired` and `rotated` (classic pub/sub: every node needs them). */
  get storeEvents(): string {
    return `${this.prefix}events`;
  }

  /** Prefix of a rate limiter's keys (one key per limited client). */
  rateLimit(name: string): string {
    return `${this.prefix}rl:${name}`;
  }

  /** stream: a session's events. */
  eventStream(sessionId: string): string {
    return `${this.prefix}{e:${sessionId}}`;
  }

  /** hash: a session's event stream bookkeeping (last lost id). */
  eventMeta(sessionId: string): string {
    return `${this.prefix}{e:${sessionId}}m`;
  }

  /** Channel of a session's live events (sharded pub/sub on a cluster: same slot as its stream). */
  eventChannel(sessionId: string): string {
    return `${this.prefix}{e:${sessionId}}c`;
  }
}
