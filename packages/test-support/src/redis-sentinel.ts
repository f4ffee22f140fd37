// Test resource: a real Redis Sentinel deployment for failover tests: one
// master, one replica and three sentinels (quorum 2), each a `redis-server`
// process (`--sentinel` with a generated config file for the sentinels) on
// a free loopback port, without persistence, stopped by PID. The sentinels
// are tuned to notice a dead master within about a second
// (`down-after-milliseconds`) and to promote the replica soon after.
//
// Always private (a failover test kills its master). It installs nothing: a
// missing `redis-server` fails the start with a clear error, also under CI=true.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import type { ClusterNodeAddress } from './redis-cluster-nodes.js';
import { redisServerVersion } from './redis-cluster-nodes.js';
import { endRedisProcess, spawnRedisProcess } from './redis-process.js';
import { sentinelReady, waitForFailover, waitUntilSentinelsAgree } from './redis-sentinel-watch.js';

/** Options of `startRedisSentinel`. */
export interface StartRedisSentinelOptions {
  /** The master's name at the sentinels. @default 'mymaster' */
  masterName?: string;
  /** `sentinel down-after-milliseconds`: silence before a node counts as down, in ms. @default 1_000 */
  downAfterMs?: number;
  /** `sentinel failover-timeout`, in ms (a stuck failover is retried after twice this). @default 5_000 */
  failoverTimeoutMs?: number;
  /** Environment to read `CI` from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** First part of the random `keyPrefix` (`<namespace>:<12 hex>:`). @default 'morgan-test' */
  namespace?: string;
}

/** Defaults of the optional `StartRedisSentinelOptions`. */
export const redisSentinelDefaults = {
  masterName: 'mymaster',
  downAfterMs: 1_000,
  failoverTimeoutMs: 5_000,
  namespace: 'morgan-test',
} as const;

/** A running master, replica and three sentinels for one test file. */
export interface RedisTestSentinel extends AsyncDisposable {
  /** The master's name at the sentinels. */
  readonly masterName: string;
  /** The three sentinels. */
  readonly sentinels: readonly ClusterNodeAddress[];
  /** `host:port,host:port,…`, the form of `REDIS_SENTINELS`. */
  readonly sentinelsEnv: string;
  /** The data nodes: the first master, then its replica. */
  readonly servers: readonly ClusterNodeAddress[];
  /** A fresh random key prefix owned by this caller, ending in `:`. */
  readonly keyPrefix: string;
  /** Environment for a Morgan node that uses this deployment. */
  readonly env: {
    readonly REDIS_SENTINELS: string;
    readonly REDIS_SENTINEL_NAME: string;
    readonly MORGAN_REDIS_PREFIX: string;
  };
  /** PID of each data node's process, as `servers` (undefined once killed). */
  readonly pids: readonly (number | undefined)[];
  /** The master the sentinels name now. */
  master(): Promise<ClusterNodeAddress>;
  /**
   * Kills the current master's process (SIGKILL by default: no goodbye to
   * its clients or to the sentinels) and resolves with its address.
   */
  killMaster(signal?: NodeJS.Signals): Promise<ClusterNodeAddress>;
  /**
   * Asks the sentinels for a failover while the master lives (`SENTINEL
   * FAILOVER`: the replica is promoted, the old master becomes its replica)
   * and resolves with the master it replaces; wait with `waitForFailover`.
   */
  failover(): Promise<ClusterNodeAddress>;
  /**
   * Waits until every sentinel names a master other than `previous` and that
   * node answers `ROLE` as a master; resolves with it. Throws after
   * `timeoutMs` with what the sentinels said.
   */
  waitForFailover(previous: ClusterNodeAddress, timeoutMs?: number): Promise<ClusterNodeAddress>;
  /** Ends every process and deletes their files. */
  stop(): Promise<void>;
}

/**
 * Starts a master, a replica and three sentinels for a failover test.
 *
 * @example
 * await using sentinel = await startRedisSentinel();
 * const store = new RedisStore({ sentinels: sentinel.sentinelsEnv.split(','), keyPrefix });
 * const old = await sentinel.killMaster();
 * await sentinel.waitForFailover(old);
 */
export async function startRedisSentinel(
  options: StartRedisSentinelOptions = {},
): Promise<RedisTestSentinel> {
  const settings = { ...redisSentinelDefaults, ...options };
  const env = options.env ?? process.env;
  if (redisServerVersion() === undefined) {
    const ci = env.CI === 'true' ? ' (CI=true: a missing Redis is a failure)' : '';
    throw new Error(
      `Redis Sentinel tests need redis-server, which is not installed${ci}. ` +
        'Install it (Debian: apt-get install redis-server).',
    );
  }
  const keyPrefix = `${settings.namespace}:${randomBytes(6).toString('hex')}:`;
  const dir = mkdtempSync(join(tmpdir(), 'morgan-redis-sentinel-'));
  const children: (ChildProcess | undefined)[] = [];
  const killOnExit = () => {
    for (const child of children) child?.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= Promise.all(children.map((child) => endRedisProcess(child, 'SIGTERM'))).then(
      () => {
        children.fill(undefined);
        process.removeListener('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      },
    );
    return stopping;
  };

  const servers: ClusterNodeAddress[] = [];
  const sentinels: ClusterNodeAddress[] = [];
  try {
    const taken = new Set<number>();
    const dataArgs = (port: number, replicaOf?: number) => [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
      ...['--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'notice'],
      ...(replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)]),
    ];
    const master = await spawnOnFreePort(taken, (port) => dataArgs(port));
    children.push(master.child);
    servers.push({ host: '127.0.0.1', port: master.port });
    const replica = await spawnOnFreePort(taken, (port) => dataArgs(port, master.port));
    children.push(replica.child);
    servers.push({ host: '127.0.0.1', port: replica.port });
    // The sentinels find the replica in the master's first INFO when it is linked already.
    await waitForReplicaLink(replica.port);
    for (let index = 0; index < 3; index += 1) {
      const sentinel = await spawnOnFreePort(
        taken,
        (port) => {
          const file = join(dir, `sentinel-${port}.conf`);
          writeFileSync(file, sentinelConfig(port, dir, master.port, settings));
          return [file, '--sentinel'];
        },
        sentinelReady,
      );
      children.push(sentinel.child);
      sentinels.push({ host: '127.0.0.1', port: sentinel.port });
    }
    await waitUntilSentinelsAgree(sentinels, settings.masterName);
  } catch (error) {
    await stop();
    throw error;
  }

  const askSentinel = async (...args: string[]): Promise<unknown> => {
    const client = new Redis({ ...sentinels[0], lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      return await client.call('SENTINEL', ...args);
    } finally {
      client.disconnect();
    }
  };
  const askMaster = async (): Promise<ClusterNodeAddress> => {
    const reply = await askSentinel('get-master-addr-by-name', settings.masterName);
    const [host, port] = reply as [string, string];
    return { host, port: Number(port) };
  };
  const sentinelsEnv = sentinels.map(({ host, port }) => `${host}:${port}`).join(',');
  return {
    masterName: settings.masterName,
    sentinels,
    sentinelsEnv,
    servers,
    keyPrefix,
    env: {
      REDIS_SENTINELS: sentinelsEnv,
      REDIS_SENTINEL_NAME: settings.masterName,
      MORGAN_REDIS_PREFIX: keyPrefix,
    },
    get pids() {
      return servers.map((_, index) => children[index]?.pid);
    },
    master: askMaster,
    killMaster: async (signal: NodeJS.Signals = 'SIGKILL') => {
      const current = await askMaster();
      const index = servers.findIndex((server) => server.port === current.port);
      if (index < 0) throw new Error(`The sentinels name ${current.port}, not one of ours`);
      const child = children[index];
      children[index] = undefined;
      await endRedisProcess(child, signal);
      return current;
    },
    failover: async () => {
      const current = await askMaster();
      await askSentinel('FAILOVER', settings.masterName);
      return current;
    },
    waitForFailover: (previous, timeoutMs = 60_000) =>
      waitForFailover(sentinels, settings.masterName, previous, timeoutMs),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function sentinelConfig(
  port: number,
  dir: string,
  masterPort: number,
  settings: { masterName: string; downAfterMs: number; failoverTimeoutMs: number },
): string {
  const name = settings.masterName;
  return [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir "${dir}"`,
    `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
    `sentinel down-after-milliseconds ${name} ${settings.downAfterMs}`,
    `sentinel failover-timeout ${name} ${settings.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`,
    '',
  ].join('\n');
}

/** Spawns on a fresh port, retrying when the port was taken meanwhile. */
async function spawnOnFreePort(
  taken: Set<number>,
  args: (port: number) => string[],
  ready?: RegExp,
): Promise<{ port: number; child: ChildProcess }> {
  for (let attempt = 0; ; attempt += 1) {
    let port = await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    try {
      return { port, child: await spawnRedisProcess(port, args(port), ready) };
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** Polls the replica until `master_link_status:up` (its first sync done). */
async function waitForReplicaLink(port: number): Promise<void> {
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const info = await client.info('replication').catch(() => '');
      if (/^master_link_status:up/m.test(info)) return;
      if (Date.now() > deadline) throw new Error(`replica ${port} did not sync:\n${info}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.disconnect();
  }
}
