// One `redis-server` child process: spawned with the caller's arguments,
// handed out once it logs that it is ready, ended by PID. Shared by
// `startRedis` (one server), `startRedisCluster` (one per master) and
// `startRedisSentinel` (master, replica and sentinels); not
// exported from the package.
import { type ChildProcess, spawn } from 'node:child_process';

const READY_LINE = /Ready to accept connections/;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Spawns `redis-server <args>` (which must include `--port <port>`) and
 * resolves once it logs `ready` (a server's "Ready to accept connections" by
 * default; a sentinel logs `+monitor` instead); kills it and rejects with its
 * output otherwise.
 *
 * @example
 * const child = await spawnRedisProcess(port, ['--port', String(port), '--save', '']);
 */
export function spawnRedisProcess(
  port: number,
  args: readonly string[],
  ready: RegExp = READY_LINE,
): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const fail = (reason: string) => {
      cleanup();
      child.kill('SIGKILL');
      reject(
        new Error(`redis-server on port ${port} did not start: ${reason}\n${output.slice(-2000)}`),
      );
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        cleanup();
        // Keep draining the pipes so the server never blocks on a full one.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    const onExit = (code: number | null) => fail(`exited with code ${code}`);
    const onError = (error: Error) => fail(error.message);
    const timer = setTimeout(() => fail('timed out'), START_TIMEOUT_MS);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/**
 * Sends `signal` to a spawned server (SIGCONT too, so a paused one can exit)
 * and waits for its exit, with SIGKILL after a few seconds.
 *
 * @example
 * await endRedisProcess(child, 'SIGTERM');
 */
export async function endRedisProcess(
  child: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  if (signal !== 'SIGKILL') child.kill('SIGCONT'); // a paused server must run to exit
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
