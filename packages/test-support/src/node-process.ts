// Test resource: a server as a real process (`node <entry>`, e.g. the built
// demo), on a free loopback port, handed out once `/health` answers, stopped
// by PID within a bounded time and killed when the test process exits.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './ports.js';

/** Options of `startNodeProcess`. */
export interface NodeProcessOptions {
  /** Built script to run with this Node.js (`process.execPath`), an absolute path. */
  entry: string;
  /**
   * Environment of the process (REDIS_URL, MORGAN_*, NODE_ENV …) on top of
   * `PATH`; the launcher sets `PORT` and `HOST=127.0.0.1` itself.
   * @default {}
   */
  env?: Record<string, string>;
  /** Port to listen on, kept by `start()` after a stop. @default a free loopback port */
  port?: number;
  /** Label in error messages (and the name of a log attachment). @default `node:<port>` */
  name?: string;
  /** Path polled until it answers 2xx. @default '/health' */
  healthPath?: string;
  /** Path of `wsUrl`. @default '/trpc' (where the WebSocket adapter listens by default) */
  wsPath?: string;
  /** How long `start()` waits for health before it kills the process and throws. @default 15_000 */
  startTimeoutMs?: number;
  /** How long `stop()` waits after its signal before it sends SIGKILL. @default 10_000 */
  stopTimeoutMs?: number;
  /** How much of the output `output` keeps (the newest characters). @default 100_000 */
  outputLimitChars?: number;
}

/** Defaults of the optional `NodeProcessOptions`. */
export const nodeProcessDefaults = {
  healthPath: '/health',
  wsPath: '/trpc',
  startTimeoutMs: 15_000,
  stopTimeoutMs: 10_000,
  outputLimitChars: 100_000,
} as const;

/** How a run of the process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A server process owned by one test. */
export interface NodeProcess extends AsyncDisposable {
  readonly name: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `ws://127.0.0.1:<port><wsPath>` */
  readonly wsUrl: string;
  /** PID of the running process, undefined while stopped. */
  readonly pid: number | undefined;
  /** What the process printed on stdout and stderr (the newest `outputLimitChars`), for failure messages. */
  readonly output: string;
  /** Exit code or signal of the last run, once it ended; undefined while running. */
  readonly exit: ProcessExit | undefined;
  /** Sends `signal` and waits for the exit, with SIGKILL after `stopTimeoutMs`. @default 'SIGTERM' */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Hard crash: `stop('SIGKILL')`. */
  kill(): Promise<void>;
  /** Starts the process again on the same port with the same environment, until healthy. */
  start(): Promise<void>;
  /** Fetches a JSON route of this process; throws with the body on a non-2xx answer. */
  json<T>(path: string, init?: RequestInit): Promise<T>;
}

/**
 * Spawns `node <entry>` with `env` + `PORT` on a loopback port and resolves
 * once `healthPath` answers. Stopped by PID, never by name.
 *
 * @example
 * await using node = await startNodeProcess({ entry: demoEntry, name: 'a', env: redis.env });
 * await node.stop('SIGKILL');
 * await node.start();
 */
export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const settings = { ...nodeProcessDefaults, ...options };
  const { entry, outputLimitChars, stopTimeoutMs } = settings;
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build it first (npm run build)`);
  const port = options.port ?? (await freePort());
  const name = options.name ?? `node:${port}`;
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH ?? '',
    ...options.env,
    PORT: String(port),
    HOST: '127.0.0.1',
  };
  let child: ChildProcess | undefined;
  let output = '';
  let exit: ProcessExit | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    exit = undefined;
    const spawned = spawn(process.execPath, [entry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = spawned;
    const append = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 2 * outputLimitChars) output = output.slice(-outputLimitChars);
    };
    spawned.stdout?.on('data', append);
    spawned.stderr?.on('data', append);
    spawned.once('exit', (code, signal) => {
      exit = { code, signal };
      if (child === spawned) child = undefined;
    });
    await untilHealthy(spawned, { ...settings, name, url, output: () => output });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  };

  try {
    await start();
  } catch (error) {
    process.removeListener('exit', killOnExit);
    throw error;
  }
  return {
    name,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}${settings.wsPath}`,
    get pid() {
      return child?.pid;
    },
    get output() {
      return output.slice(-outputLimitChars);
    },
    get exit() {
      return exit;
    },
    stop,
    kill: () => stop('SIGKILL'),
    start,
    async json<T>(path: string, init?: RequestInit): Promise<T> {
      const response = await fetch(`${url}${path}`, init);
      if (!response.ok) {
        throw new Error(`${name} ${path} answered ${response.status}: ${await response.text()}`);
      }
      return (await response.json()) as T;
    },
    async [Symbol.asyncDispose]() {
      await stop('SIGTERM');
      process.removeListener('exit', killOnExit);
    },
  };
}

interface HealthCheck {
  name: string;
  url: string;
  healthPath: string;
  startTimeoutMs: number;
  output: () => string;
}

const POLL_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 2_000;

/** Polls `healthPath` until it answers 2xx; kills the process when it never does. */
async function untilHealthy(child: ChildProcess, check: HealthCheck): Promise<void> {
  const { name, url, healthPath, startTimeoutMs, output } = check;
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode}:\n${output()}`);
    }
    try {
      const probe = await fetch(`${url}${healthPath}`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      await probe.body?.cancel();
      if (probe.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  child.kill('SIGKILL');
  throw new Error(
    `${name} at ${url} did not answer ${healthPath} in ${startTimeoutMs} ms:\n${output()}`,
  );
}
