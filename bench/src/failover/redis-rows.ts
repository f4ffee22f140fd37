// The Redis each P8 row runs its three demo nodes on. The same scenario runs
// once per row; a row is only the environment the nodes get and how to let
// the Redis go afterwards.
//
// Rows:
// - `redis-server`: a private one from startRedis (or the one REDIS_URL
//   names, under a key prefix of its own);
// - `Redis Cluster`: three masters from startRedisCluster (or the cluster
//   REDIS_CLUSTER_NODES names, under a key prefix of its own); the nodes get
//   REDIS_CLUSTER_NODES (the demo's cluster support).
import { startRedis, startRedisCluster } from '@morgan/test-support';

/** The Redis of one P8 row. */
export interface RedisRow {
  /** Name in the report, e.g. `redis-server`. */
  readonly label: string;
  /** What the demo nodes get on top of their own settings (REDIS_URL or REDIS_CLUSTER_NODES, a key prefix). */
  readonly env: Readonly<Record<string, string>>;
  /** Deletes what the row wrote or stops the server it started. */
  release(): Promise<void>;
}

/** Starts a row's Redis when the row runs. */
export interface RedisRowSource {
  readonly label: string;
  open(): Promise<RedisRow>;
}

const NAMESPACE = 'morgan-bench-p8';

/** A single redis-server: a private one, or REDIS_URL's under a fresh key prefix. */
export const standaloneRedis: RedisRowSource = {
  label: 'redis-server',
  async open() {
    const redis = await startRedis({ namespace: NAMESPACE });
    return {
      label: redis.owned ? 'redis-server' : 'redis-server (REDIS_URL)',
      env: redis.env,
      release: () => redis.stop(),
    };
  },
};

/** A Redis Cluster: three private masters, or REDIS_CLUSTER_NODES' under a fresh key prefix. */
export const clusterRedis: RedisRowSource = {
  label: 'Redis Cluster',
  async open() {
    const cluster = await startRedisCluster({ namespace: NAMESPACE });
    return {
      label: cluster.owned
        ? `Redis Cluster (${cluster.nodes.length} masters)`
        : 'Redis Cluster (REDIS_CLUSTER_NODES)',
      env: cluster.env,
      release: () => cluster.stop(),
    };
  },
};

/** The rows of this run: one redis-server, then a Redis Cluster, side by side. */
export function redisRows(): RedisRowSource[] {
  return [standaloneRedis, clusterRedis];
}
