// Test resource: a real demo server process (`node apps/demo/dist/server.js`),
// started on a free loopback port and stopped by PID within a bounded time.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The built entry; `npm test` builds it before running the suites. */
export const demoEntry = fileURLToPath(new URL('../../dist/server.js', import.meta.url));

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

/** A demo node process owned by a test. */
export interface DemoNode extends AsyncDisposable {
  readonly name: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `ws://127.0.0.1:<port>/trpc` */
  readonly wsUrl: string;
  /** PID while running. */
  readonly pid: number | undefined;
  /** What the process printed (for failure messages). */
  readonly output: string;
  /** Exit code or signal of the last run, once it ended. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Sends `signal` and waits for the exit (SIGKILL after a deadline). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the process again on the same port with the same environment. */
  start(): Promise<void>;
}

/**
 * Spawns a demo node with `env` (REDIS_URL, MORGAN_*), waits until `/health`
 * answers, and kills it when the test process exits, whatever happens.
 *
 * @example
 * await using a = await startDemoNode('a', { REDIS_URL: redis.url });
 */
export async function startDemoNode(name: string, env: Record<string, string>): Promise<DemoNode> {
  if (!existsSync(demoEntry)) {
    throw new Error(`${demoEntry} is missing: build the demo first (npm run build)`);
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  let exit: DemoNode['exit'];
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    exit = undefined;
    const spawned = spawn(process.execPath, [demoEntry], {
      env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = spawned;
    const append = (chunk: Buffer) => {
      output = `${output}${chunk.toString()}`.slice(-50_000);
    };
    spawned.stdout?.on('data', append);
    spawned.stderr?.on('data', append);
    spawned.once('exit', (code, signal) => {
      exit = { code, signal };
      if (child === spawned) child = undefined;
    });
    await untilHealthy(`http://127.0.0.1:${port}`, spawned, () => output);
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/trpc`,
    get pid() {
      return child?.pid;
    },
    get output() {
      return output;
    },
    get exit() {
      return exit;
    },
    stop,
    start,
    async [Symbol.asyncDispose]() {
      await stop('SIGTERM');
      process.removeListener('exit', killOnExit);
    },
  };
}

async function untilHealthy(url: string, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`demo node exited with ${child.exitCode ?? child.signalCode}:\n${output()}`);
    }
    try {
      if ((await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(
    `demo node at ${url} did not answer /health in ${START_TIMEOUT_MS} ms:\n${output()}`,
  );
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
