// Talking to the nodes of a Redis Cluster for `startRedisCluster`: join
// them with `redis-cli --cluster create`, wait until every node reports the
// cluster ok, run a command on each, delete a caller's keys; and the checks
// that redis-server 7+ and redis-cli are there. The package exports only the
// address type and `redisServerVersion` from here (through redis-cluster.ts).
import { spawn, spawnSync } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';

/** Address of one cluster node, as ioredis's `new Cluster(nodes)` takes it. */
export interface ClusterNodeAddress {
  readonly host: string;
  readonly port: number;
}

const SLOTS = 16_384;
const CLUSTER_OK_TIMEOUT_MS = 30_000;
const CLUSTER_CREATE_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 100;

/** Runs `redis-cli <args>`, rejecting with its output when it fails or hangs. */
export function runRedisCli(args: readonly string[]): Promise<void> {
  const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const append = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const timer = setTimeout(() => child.kill('SIGKILL'), CLUSTER_CREATE_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(new Error(`redis-cli ${args.join(' ')} ended with ${code ?? signal}:\n${output}`));
    });
  });
}

/**
 * Polls `CLUSTER INFO` on every node until each answers `cluster_state:ok`,
 * 16384 slots assigned and served (none in PFAIL/FAIL) and knows at least
 * `knownNodes` nodes; throws with the last answers after 30 s.
 */
export async function waitUntilClusterOk(
  nodes: readonly ClusterNodeAddress[],
  knownNodes: number,
): Promise<void> {
  const deadline = Date.now() + CLUSTER_OK_TIMEOUT_MS;
  let last: string[] = [];
  for (;;) {
    last = await Promise.all(nodes.map((node) => clusterInfo(node)));
    const ok = last.every((info) => {
      const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
      return (
        field('cluster_state') === 'ok' &&
        Number(field('cluster_slots_assigned')) === SLOTS &&
        Number(field('cluster_slots_ok')) === SLOTS &&
        Number(field('cluster_known_nodes')) >= knownNodes
      );
    });
    if (ok) return;
    if (Date.now() > deadline) {
      const report = nodes.map(({ host, port }, i) => `${host}:${port}: ${last[i]}`).join('\n');
      throw new Error(`Redis Cluster not ok after ${CLUSTER_OK_TIMEOUT_MS} ms:\n${report}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

function clusterInfo(node: ClusterNodeAddress): Promise<string> {
  return probeNode(node, async (client) => String(await client.call('CLUSTER', 'INFO')));
}

/**
 * Runs `ask` on a fresh connection to `node` that neither queues nor
 * retries, then drops it; an unreachable node or an error reply is an
 * answer here, `unreachable (<message>)`, not a throw.
 */
export async function probeNode<T>(
  { host, port }: ClusterNodeAddress,
  ask: (client: Redis) => Promise<T>,
): Promise<T | string> {
  const client = new Redis({
    host,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
  });
  client.on('error', () => {}); // an unreachable node is an answer here, not a crash
  try {
    await client.connect();
    return await ask(client);
  } catch (error) {
    return `unreachable (${(error as Error).message})`;
  } finally {
    client.disconnect();
  }
}

export async function forEachNode(
  nodes: readonly ClusterNodeAddress[],
  fn: (client: Redis) => Promise<unknown>,
): Promise<void> {
  await Promise.all(
    nodes.map(async ({ host, port }) => {
      const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
        await fn(client);
      } finally {
        client.disconnect();
      }
    }),
  );
}

/** Deletes the keys under `prefix` on every master of a cluster with SCAN + UNLINK (never FLUSH*). */
export async function deleteClusterKeys(nodes: readonly ClusterNodeAddress[], prefix: string) {
  const cluster = new Cluster([...nodes], { lazyConnect: true });
  try {
    await cluster.connect();
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    for (const master of cluster.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await master.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        // One UNLINK per key: keys of different slots may not share a command.
        for (const key of keys) await master.unlink(key);
      } while (cursor !== '0');
    }
  } finally {
    cluster.disconnect();
  }
}

/**
 * The version `redis-server --version` reports (`7.0.15`), or undefined
 * when it does not run. Sharded pub/sub (SSUBSCRIBE) and `cluster-port`
 * need 7.
 *
 * @example
 * redisServerVersion(); // '7.0.15'
 */
export function redisServerVersion(): string | undefined {
  const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return /v=(\d+\.\d+\.\d+)/.exec(result.stdout ?? '')?.[1];
}

export function ensureClusterTools(env: NodeJS.ProcessEnv): void {
  const ci = env.CI === 'true' ? ' (CI=true: a missing Redis is a failure)' : '';
  const version = redisServerVersion();
  if (version === undefined || Number(version.split('.')[0]) < 7) {
    throw new Error(
      `Redis Cluster tests need redis-server 7 or later, found ${version ?? 'none'}${ci}. ` +
        'Install it or set REDIS_CLUSTER_NODES to a cluster to use.',
    );
  }
  const cli = spawnSync('redis-cli', ['--version'], { stdio: 'ignore' });
  if (cli.error !== undefined || cli.status !== 0) {
    throw new Error(
      `redis-cli is not installed${ci}. Install it (Debian: apt-get install redis-tools) ` +
        'or set REDIS_CLUSTER_NODES to a cluster to use.',
    );
  }
}
