// Test resource: a real Redis Cluster (7.x, masters only) for tests.
//
// With `REDIS_CLUSTER_NODES=host:port,…` set, tests share that cluster and
// each caller owns a random key prefix (only keys under it are ever deleted).
// Otherwise, or with `{ own: true }`, `masters` cluster-enabled
// `redis-server` processes are spawned on free loopback ports without
// persistence, joined with `redis-cli --cluster create`, handed out once
// every node reports `cluster_state:ok` with all 16384 slots served, and
// stopped by PID. A missing `redis-server` is installed like `startRedis`
// does; when that is impossible, or it is older than 7, the start fails with
// a clear error (also under CI=true).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import {
  type ClusterNodeAddress,
  deleteClusterKeys,
  ensureClusterTools,
  forEachNode,
  runRedisCli,
  waitUntilClusterOk,
} from './redis-cluster-nodes.js';
import { endRedisProcess, spawnRedisProcess } from './redis-process.js';
import { ensureRedisServerInstalled } from './redis-server.js';

export { type ClusterNodeAddress, redisServerVersion } from './redis-cluster-nodes.js';

/** Options of `startRedisCluster`. */
export interface StartRedisClusterOptions {
  /** Spawn a private cluster even when `REDIS_CLUSTER_NODES` is set (needed to restart or flush it). @default false */
  own?: boolean;
  /** Masters to spawn (no replicas); `redis-cli --cluster create` needs at least 3. @default 3 */
  masters?: number;
  /** `cluster-node-timeout` of the spawned nodes, in ms. @default 2_000 */
  nodeTimeoutMs?: number;
  /** Environment to read `REDIS_CLUSTER_NODES` and `CI` from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** First part of the random `keyPrefix` (`<namespace>:<12 hex>:`). @default 'morgan-test' */
  namespace?: string;
}

/** Defaults of the optional `StartRedisClusterOptions`. */
export const redisClusterDefaults = {
  masters: 3,
  nodeTimeoutMs: 2_000,
  namespace: 'morgan-test',
} as const;

/** A running Redis Cluster for one test file or benchmark. */
export interface RedisTestCluster extends AsyncDisposable {
  /** The nodes (the spawned masters, in order, or those of `REDIS_CLUSTER_NODES`). */
  readonly nodes: readonly ClusterNodeAddress[];
  /** `host:port,host:port,…`, the form of `REDIS_CLUSTER_NODES`. */
  readonly nodesEnv: string;
  /** A fresh random key prefix owned by this caller, ending in `:`. */
  readonly keyPrefix: string;
  /** Environment for a Morgan node that uses this cluster. */
  readonly env: { readonly REDIS_CLUSTER_NODES: string; readonly MORGAN_REDIS_PREFIX: string };
  /** True when this resource spawned the nodes (so it may restart and flush them). */
  readonly owned: boolean;
  /** PID of each spawned master (undefined while one is down); empty when shared. */
  readonly pids: readonly (number | undefined)[];
  /**
   * Ends master `index` (SIGTERM, or the given signal; SIGKILL after a few
   * seconds) and starts it again on the same ports with the same nodes.conf,
   * so it rejoins with its slots (empty: no persistence); resolves once the
   * cluster is ok on every node. Its slots are unavailable while it is down.
   */
  restartMaster(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** FLUSHALL on every master of a spawned cluster (refused on a shared one). */
  flushAll(): Promise<void>;
  /** Waits until every node reports `cluster_state:ok` and 16384 slots served. */
  waitUntilOk(): Promise<void>;
  /** Deletes this caller's keys (shared cluster) or ends the spawned nodes and their files. */
  stop(): Promise<void>;
}

/**
 * Starts (or connects to) a Redis Cluster for a test.
 *
 * @example
 * await using cluster = await startRedisCluster();
 * const client = new Cluster([...cluster.nodes]);
 * await cluster.restartMaster(0);
 */
export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<RedisTestCluster> {
  const settings = { ...redisClusterDefaults, ...options };
  const env = options.env ?? process.env;
  const keyPrefix = `${settings.namespace}:${randomBytes(6).toString('hex')}:`;
  const shared = env.REDIS_CLUSTER_NODES;
  if (shared !== undefined && shared.trim() !== '' && options.own !== true) {
    const nodes = parseClusterNodes(shared);
    await waitUntilClusterOk(nodes, 1);
    return sharedCluster(nodes, keyPrefix);
  }
  if (!Number.isInteger(settings.masters) || settings.masters < 3) {
    throw new Error(`startRedisCluster needs at least 3 masters, got ${settings.masters}`);
  }
  ensureRedisServerInstalled(env);
  ensureClusterTools(env);
  return ownCluster(settings.masters, settings.nodeTimeoutMs, keyPrefix);
}

/**
 * Reads `host:port,host:port,…` (the form of `REDIS_CLUSTER_NODES`).
 *
 * @example
 * parseClusterNodes('127.0.0.1:7000,127.0.0.1:7001'); // [{ host: '127.0.0.1', port: 7000 }, …]
 */
export function parseClusterNodes(text: string): ClusterNodeAddress[] {
  return text.split(',').map((entry) => {
    const match = /^\s*(\[[^\]]+\]|[^:\s]+):(\d{1,5})\s*$/.exec(entry);
    const port = Number(match?.[2]);
    if (match?.[1] === undefined || port < 1 || port > 65_535) {
      throw new Error(`REDIS_CLUSTER_NODES: "${entry}" is not host:port (in "${text}")`);
    }
    return { host: match[1].replace(/^\[|\]$/g, ''), port };
  });
}

function toEnv(nodes: readonly ClusterNodeAddress[]): string {
  return nodes.map(({ host, port }) => `${host}:${port}`).join(',');
}

function sharedCluster(nodes: ClusterNodeAddress[], keyPrefix: string): RedisTestCluster {
  const nodesEnv = toEnv(nodes);
  const refuse = async (): Promise<void> => {
    throw new Error(
      'This cluster comes from REDIS_CLUSTER_NODES; use startRedisCluster({ own: true }) to restart or flush it',
    );
  };
  const stop = () => deleteClusterKeys(nodes, keyPrefix);
  return {
    nodes,
    nodesEnv,
    keyPrefix,
    env: { REDIS_CLUSTER_NODES: nodesEnv, MORGAN_REDIS_PREFIX: keyPrefix },
    owned: false,
    pids: [],
    restartMaster: refuse,
    flushAll: refuse,
    waitUntilOk: () => waitUntilClusterOk(nodes, 1),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

interface Master {
  readonly port: number;
  readonly busPort: number;
  child: ChildProcess | undefined;
}

async function ownCluster(
  count: number,
  nodeTimeoutMs: number,
  keyPrefix: string,
): Promise<RedisTestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'morgan-redis-cluster-'));
  const masters: Master[] = [];
  const args = (master: Master) => [
    ...['--port', String(master.port), '--cluster-port', String(master.busPort)],
    ...['--cluster-enabled', 'yes', '--cluster-node-timeout', String(nodeTimeoutMs)],
    ...['--cluster-config-file', join(dir, `nodes-${master.port}.conf`)],
    ...['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    ...['--daemonize', 'no', '--loglevel', 'notice'],
  ];
  const killOnExit = () => {
    for (const master of masters) master.child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const endAll = async () => {
    await Promise.all(masters.map((master) => endRedisProcess(master.child, 'SIGTERM')));
    for (const master of masters) master.child = undefined;
    process.removeListener('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };

  const nodes = () => masters.map(({ port }) => ({ host: '127.0.0.1', port }));
  try {
    const taken = new Set<number>();
    for (let index = 0; index < count; index += 1) {
      masters.push(await spawnMaster(taken, args));
    }
    await runRedisCli([
      '--cluster',
      'create',
      ...masters.map(({ port }) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitUntilClusterOk(nodes(), count);
  } catch (error) {
    await endAll();
    throw error;
  }

  const restartMaster = async (index: number, signal: NodeJS.Signals = 'SIGTERM') => {
    const master = masters[index];
    if (master === undefined) {
      throw new Error(`restartMaster(${index}): the cluster has masters 0 to ${count - 1}`);
    }
    const running = master.child;
    master.child = undefined;
    await endRedisProcess(running, signal);
    master.child = await spawnRedisProcess(master.port, args(master));
    await waitUntilClusterOk(nodes(), count);
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= endAll();
    return stopping;
  };
  const nodesEnv = toEnv(nodes());
  return {
    nodes: nodes(),
    nodesEnv,
    keyPrefix,
    env: { REDIS_CLUSTER_NODES: nodesEnv, MORGAN_REDIS_PREFIX: keyPrefix },
    owned: true,
    get pids() {
      return masters.map(({ child }) => child?.pid);
    },
    restartMaster,
    flushAll: () => forEachNode(nodes(), (client) => client.flushall()),
    waitUntilOk: () => waitUntilClusterOk(nodes(), count),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Spawns one master on a fresh client port and bus port, retrying when a port was taken meanwhile. */
async function spawnMaster(
  taken: Set<number>,
  args: (master: Master) => string[],
): Promise<Master> {
  for (let attempt = 0; ; attempt += 1) {
    const port = await freshPort(taken);
    const busPort = await freshPort(taken);
    const master: Master = { port, busPort, child: undefined };
    try {
      master.child = await spawnRedisProcess(port, args(master));
      return master;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function freshPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}
