import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** A Redis for one spec: `REDIS_URL` when set, else a private `redis-server`. */
export interface E2eRedis extends AsyncDisposable {
  readonly url: string;
  /**
   * Environment for demo nodes that share this Redis: `REDIS_URL` and a
   * `MORGAN_REDIS_PREFIX` of their own, so runs on a shared server stay apart.
   */
  readonly env: Record<string, string>;
  /** True when this spec spawned the server. */
  readonly owned: boolean;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

/**
 * Uses `REDIS_URL` when it is set; otherwise spawns `redis-server` on a free
 * loopback port without persistence and stops it by PID afterwards.
 *
 * @example
 * await using redis = await startRedis();
 * await using node = await startDemo({ env: { REDIS_URL: redis.url } });
 */
export async function startRedis(): Promise<E2eRedis> {
  const prefix = `morgan-e2e:${randomBytes(6).toString('hex')}:`;
  const shared = process.env.REDIS_URL;
  if (shared !== undefined && shared !== '') {
    const stop = async () => {};
    const env = { REDIS_URL: shared, MORGAN_REDIS_PREFIX: prefix };
    return { url: shared, env, owned: false, stop, [Symbol.asyncDispose]: stop };
  }
  const dir = mkdtempSync(join(tmpdir(), 'morgan-e2e-redis-'));
  const port = await freePort();
  const child = await spawnRedis(port, dir);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const url = `redis://127.0.0.1:${port}`;
  const env = { REDIS_URL: url, MORGAN_REDIS_PREFIX: prefix };
  return { url, env, owned: true, stop, [Symbol.asyncDispose]: stop };
}

function spawnRedis(port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', [...args, '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail('timed out'), START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!/Ready to accept connections/.test(output)) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      child.stderr?.resume();
      child.off('exit', onExit);
      resolve(child);
    };
    const onExit = (code: number | null) => fail(`exited with code ${code}`);
    function fail(reason: string) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(
        new Error(
          `redis-server on port ${port} did not start (${reason}). Install Debian's redis-server ` +
            `(npm test does this) or set REDIS_URL.\n${output.slice(-2000)}`,
        ),
      );
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (error) => fail(error.message));
  });
}
