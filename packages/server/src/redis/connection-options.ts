import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { RedisClient } from './connection.js';

/**
 * Where a `RedisStore` or a `RedisEventLog` connects and how it fails: one
 * Redis at `url`, a Redis Cluster (`clusterNodes`), a master found through
 * Redis Sentinel (`sentinels`), or a client of the app's own (`client`).
 */
export interface RedisConnectionOptions {
  /** Redis URL (`redis://[:password@]host:port[/db]`, `rediss://` for TLS). @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** ioredis options, merged over the fail-fast defaults. @default {} */
  redis?: RedisOptions;
  /**
   * Redis Cluster nodes (`host:port`, a few are enough: the rest are
   * discovered) to connect to instead of `url`; the demo reads them from
   * `REDIS_CLUSTER_NODES`. `redis` then applies to each node's connection,
   * and live events travel by sharded pub/sub.
   * @default undefined (one Redis at `url`)
   */
  clusterNodes?: readonly string[];
  /** ioredis `Cluster` options, merged over the fail-fast defaults. @default {} */
  cluster?: ClusterOptions;
  /**
   * Redis Sentinel processes (`host:port`) to ask for the master's address
   * instead of connecting to `url`'s host and port; the demo reads them from
   * `REDIS_SENTINELS`. After a failover every connection (commands, pub/sub)
   * finds the promoted replica by itself, and the events published while a
   * subscription was down are read from the buffer; meanwhile operations
   * fail with `StoreUnavailableError`. `url` then only gives the master's
   * credentials and database, and `redis` applies too (e.g.
   * `sentinelPassword`). Not with `clusterNodes`.
   * @default undefined (one Redis at `url`)
   */
  sentinels?: readonly string[];
  /** The master's name at the sentinels (`sentinel monitor <name> …`). @default 'mymaster' */
  sentinelName?: string;
  /**
   * An ioredis client (`Redis`, or `Cluster` for Redis Cluster) to use
   * instead of `url`, for example a `RedisStore`'s for its `RedisEventLog`.
   * It is not closed for you, and its own settings (offline queue, timeouts)
   * decide how it fails.
   * @default undefined (an own connection, closed in `close()`)
   */
  client?: RedisClient;
  /** Prefix of every key and channel; nodes sharing sessions use the same one. @default 'morgan:' */
  keyPrefix?: string;
  /**
   * Longest wait for a Redis reply, and for the first connection, in ms.
   * While Redis is unreachable operations reject at once with
   * `StoreUnavailableError` (`STORE_UNAVAILABLE`); the client reconnects by itself.
   * @default 1_000
   */
  commandTimeoutMs?: number;
}
