import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built demo server (`npm test` builds it through turbo before the suite). */
export const demoServerEntry = join(repoRoot, 'apps', 'demo', 'dist', 'server.js');

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 8_000;

/** Options of `startDemo`. */
export interface DemoServerOptions {
  /** Port to listen on. @default a free port */
  port?: number;
  /** Extra environment (MORGAN_*, REDIS_URL, …). */
  env?: Record<string, string>;
  /** Label used in logs. @default `demo:<port>` */
  name?: string;
}

/** A demo server process owned by one test. */
export interface DemoServer extends AsyncDisposable {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly name: string;
  /** PID of the running process, undefined while stopped. */
  readonly pid: number | undefined;
  /** Everything the process printed, for failure messages. */
  readonly output: string;
  /** Graceful stop (SIGTERM, SIGKILL after a deadline). */
  stop(): Promise<void>;
  /** Hard crash: SIGKILL. */
  kill(): Promise<void>;
  /** Starts the process again on the same port with the same environment. */
  start(): Promise<void>;
  /** GET a JSON route of this server. */
  json<T>(path: string, init?: RequestInit): Promise<T>;
}

/**
 * Spawns `node apps/demo/dist/server.js` on a free loopback port and waits
 * until `/health` answers. Stopped by PID, never by name.
 *
 * @example
 * await using demo = await startDemo({ env: { MORGAN_MAX_CONCURRENT: '4' } });
 */
export async function startDemo(options: DemoServerOptions = {}): Promise<DemoServer> {
  if (!existsSync(demoServerEntry)) {
    throw new Error(`${demoServerEntry} is missing: build the demo first (npm run build).`);
  }
  const port = options.port ?? (await freePort());
  const name = options.name ?? `demo:${port}`;
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const spawned = spawn(process.execPath, [demoServerEntry], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        ...options.env,
        PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = spawned;
    const append = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    spawned.stdout?.on('data', append);
    spawned.stderr?.on('data', append);
    spawned.once('exit', () => {
      if (child === spawned) child = undefined;
    });
    await waitUntilHealthy(url, spawned, () => output);
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) {
      child = undefined;
      return;
    }
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(sig);
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    child = undefined;
  };

  await start();
  const stop = () => signal('SIGTERM');
  return {
    port,
    url,
    name,
    get pid() {
      return child?.pid;
    },
    get output() {
      return output;
    },
    stop,
    kill: () => signal('SIGKILL'),
    start,
    async json<T>(path: string, init?: RequestInit): Promise<T> {
      const response = await fetch(`${url}${path}`, init);
      if (!response.ok)
        throw new Error(`${name} ${path} answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as T;
    },
    async [Symbol.asyncDispose]() {
      await stop();
      process.removeListener('exit', killOnExit);
    },
  };
}

async function waitUntilHealthy(
  url: string,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `demo server exited with ${child.exitCode ?? child.signalCode}:\n${output()}`,
      );
    }
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(
    `demo server at ${url} did not become healthy in ${START_TIMEOUT_MS} ms:\n${output()}`,
  );
}
