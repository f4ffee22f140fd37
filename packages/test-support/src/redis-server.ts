// Test resource: a real Redis for tests, end-to-end specs and benchmarks.
//
// With `REDIS_URL` set, tests share that server and each caller owns a random
// key prefix (only keys under it are ever deleted). Otherwise, or with
// `{ own: true }`, a private `redis-server` is spawned on a free loopback port
// without persistence and stopped by PID. A missing `redis-server` is
// installed with apt-get when running as root; when that is impossible the
// start fails with a clear error (never a silent skip, also under CI=true).
import { type ChildProcess, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { endRedisProcess, spawnRedisProcess } from './redis-process.js';

export interface StartRedisOptions {
  /** Spawn a private server even when `REDIS_URL` is set (needed to stop/restart it). @default false */
  own?: boolean;
  /**
   * Spawned server only: keep an append-only file fsynced on every write, so
   * `stopServer()` + `startServer()` keeps every acknowledged write.
   * @default false (no persistence: a restart starts empty)
   */
  persistent?: boolean;
  /** Environment to read `REDIS_URL` from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * First part of the random `keyPrefix` (`<namespace>:<12 hex>:`), so the keys
   * of one kind of run can be told apart on a shared server.
   * @default 'morgan-test'
   */
  namespace?: string;
}

/** A running Redis for one test file or benchmark. */
export interface RedisTestServer extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>` (or `REDIS_URL`). */
  readonly url: string;
  /** A fresh random key prefix owned by this caller, ending in `:`. */
  readonly keyPrefix: string;
  /**
   * Environment for a Morgan node that uses this Redis: `REDIS_URL` and
   * `MORGAN_REDIS_PREFIX` (this caller's `keyPrefix`), so runs on a shared
   * server stay apart and `stop()` deletes what the nodes wrote.
   */
  readonly env: { readonly REDIS_URL: string; readonly MORGAN_REDIS_PREFIX: string };
  /** True when this resource spawned the server (so it may stop and restart it). */
  readonly owned: boolean;
  /** Port of the server. */
  readonly port: number;
  /** PID of the spawned `redis-server`, undefined while stopped or when shared. */
  readonly pid: number | undefined;
  /** Stops the spawned server (SIGTERM, then SIGKILL), keeping the port for `startServer`. */
  stopServer(): Promise<void>;
  /** Starts the spawned server again on the same port (empty: no persistence). */
  startServer(): Promise<void>;
  /** Sends a signal (e.g. `SIGKILL`) to the spawned server and waits for its exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes the spawned server (SIGSTOP): connections stay open, nothing answers. */
  pauseServer(): void;
  /** Thaws a paused server (SIGCONT). */
  resumeServer(): void;
  /** Deletes this caller's keys (shared server) or stops the spawned server. */
  stop(): Promise<void>;
}

/**
 * Starts (or connects to) a Redis for a test.
 *
 * @example
 * await using redis = await startRedis();
 * const store = new RedisStore({ url: redis.url, keyPrefix: redis.keyPrefix });
 * await using node = await startNodeProcess({ entry, env: redis.env });
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisTestServer> {
  const env = options.env ?? process.env;
  const keyPrefix = `${options.namespace ?? 'morgan-test'}:${randomBytes(6).toString('hex')}:`;
  const shared = env.REDIS_URL;
  if (shared !== undefined && shared !== '' && options.own !== true) {
    return sharedServer(shared, keyPrefix);
  }
  ensureRedisServerInstalled(env);
  return ownServer(keyPrefix, options.persistent === true);
}

function sharedServer(url: string, keyPrefix: string): RedisTestServer {
  const port = Number(new URL(url).port || 6379);
  const refuse = async (): Promise<void> => {
    throw new Error(
      'This Redis comes from REDIS_URL; use startRedis({ own: true }) to stop or restart it',
    );
  };
  const stop = () => deleteKeys(url, keyPrefix);
  return {
    url,
    keyPrefix,
    env: { REDIS_URL: url, MORGAN_REDIS_PREFIX: keyPrefix },
    owned: false,
    port,
    pid: undefined,
    stopServer: refuse,
    startServer: refuse,
    kill: refuse,
    pauseServer: () => {
      throw new Error('This Redis comes from REDIS_URL; use startRedis({ own: true }) to pause it');
    },
    resumeServer: () => {},
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function ownServer(keyPrefix: string, persistent: boolean): Promise<RedisTestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'morgan-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; child === undefined; attempt += 1) {
    port = await freePort();
    try {
      child = await spawnRedis(port, dir, persistent);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const running = child;
    child = undefined;
    await endRedisProcess(running, signal);
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= kill('SIGTERM').finally(() => {
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    });
    return stopping;
  };
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    keyPrefix,
    env: { REDIS_URL: url, MORGAN_REDIS_PREFIX: keyPrefix },
    owned: true,
    port,
    get pid() {
      return child?.pid;
    },
    stopServer: () => kill('SIGTERM'),
    pauseServer: () => child?.kill('SIGSTOP'),
    resumeServer: () => child?.kill('SIGCONT'),
    startServer: async () => {
      if (child !== undefined) return;
      child = await spawnRedis(port, dir, persistent);
    },
    kill,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function spawnRedis(port: number, dir: string, persistent: boolean): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    ...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--loglevel',
    'notice',
  ];
  return spawnRedisProcess(port, args);
}

let installed = false;

/**
 * Makes sure `redis-server` runs here, installing Debian's package as root if
 * needed; throws a clear error when it cannot (`startRedis` calls it).
 *
 * @example
 * ensureRedisServerInstalled(); // before spawning redis-server yourself
 */
export function ensureRedisServerInstalled(env: NodeJS.ProcessEnv = process.env): void {
  if (installed || hasRedisServer()) {
    installed = true;
    return;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && spawnSync('apt-get', ['--version']).status === 0) {
    const quiet = {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    } as const;
    spawnSync('apt-get', ['update'], quiet);
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], quiet);
    if (hasRedisServer()) {
      installed = true;
      return;
    }
  }
  const ci = env.CI === 'true' ? ' (CI=true: a missing Redis is a failure)' : '';
  throw new Error(
    `redis-server is not installed and could not be installed${ci}. ` +
      'Install it (Debian: apt-get install redis-server) or set REDIS_URL to a Redis to use.',
  );
}

function hasRedisServer(): boolean {
  const result = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/**
 * Deletes the keys under `prefix` on a shared server with SCAN + UNLINK (never FLUSH*).
 *
 * @example
 * afterEach(() => deleteKeys(redis.url, keyPrefix));
 */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(
        cursor,
        'MATCH',
        `${escapeGlob(prefix)}*`,
        'COUNT',
        500,
      );
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
