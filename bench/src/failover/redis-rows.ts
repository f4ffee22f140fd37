// The Redis each P8 row runs its three demo nodes on. The same scenario runs
// once per row; a row is only the environment the nodes get and how to let
// the Redis go afterwards.
//
// Rows:
// - `redis-server`: a private one from startRedis (or the one REDIS_URL
//   names, under a key prefix of its own);
// - `Redis Cluster`, only when MORGAN_BENCH_CLUSTER_NODES=host:port,... is
//   set: the nodes get REDIS_CLUSTER_NODES (the demo's cluster support).
import { randomBytes } from 'node:crypto';
import { startRedis } from '@morgan/test-support';

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

/**
 * A Redis Cluster the caller runs, by its seed nodes (`host:port,...`). Its
 * keys stay (under a fresh prefix): flushing a cluster this run does not own
 * is not this benchmark's business.
 */
export function clusterRedis(nodes: string): RedisRowSource {
  return {
    label: 'Redis Cluster',
    async open() {
      const prefix = `${NAMESPACE}:${randomBytes(6).toString('hex')}:`;
      return {
        label: `Redis Cluster (${nodes})`,
        env: { REDIS_CLUSTER_NODES: nodes, MORGAN_REDIS_PREFIX: prefix },
        release: async () => {},
      };
    },
  };
}

/** The rows of this run: redis-server, and a Redis Cluster when MORGAN_BENCH_CLUSTER_NODES is set. */
export function redisRows(env: NodeJS.ProcessEnv = process.env): RedisRowSource[] {
  const rows = [standaloneRedis];
  const cluster = env.MORGAN_BENCH_CLUSTER_NODES?.trim();
  if (cluster) rows.push(clusterRedis(cluster));
  return rows;
}
