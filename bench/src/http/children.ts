// Child processes of the HTTP benchmarks: the server under test and the load
// generator each run in their own process (node + tsx), so neither shares an
// event loop or a heap with the other or with the benchmark runner.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadSpec, LoadSummary } from './load.js';
import type { ServerVariant, ServerVariantOptions } from './server.js';

const here = dirname(fileURLToPath(import.meta.url));
const benchRoot = join(here, '..', '..');

function spawnTsx(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], {
    cwd: benchRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Resolves the JSON after `prefix` on the child's first matching stdout line. */
function lineOf<T>(
  child: ChildProcess,
  prefix: string,
  what: string,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = new RegExp(`^${prefix} (.*)$`, 'm').exec(buffered);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(JSON.parse(match[1]) as T);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

/** A benchmark server running in a child process. */
export interface ChildServer extends AsyncDisposable {
  readonly url: string;
  readonly sessionId: string | undefined;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts `server.ts <variant>` and waits for its READY line. */
export async function startChildServer(
  variant: ServerVariant,
  options: ServerVariantOptions = {},
): Promise<ChildServer> {
  const child = spawnTsx('server.ts', [variant, JSON.stringify(options)]);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await lineOf<{ port: number; sessionId?: string }>(
    child,
    'READY',
    `${variant} server`,
    30_000,
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `http://127.0.0.1:${ready.port}`,
    sessionId: ready.sessionId,
    pid: child.pid ?? -1,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Runs a load spec in a fresh load generator process. */
export async function runLoad(spec: LoadSpec): Promise<LoadSummary> {
  const child = spawnTsx('loadgen.ts', [JSON.stringify(spec)]);
  const limitMs = ((spec.warmupSeconds ?? 0) + spec.durationSeconds) * 1000 + 60_000;
  return lineOf<LoadSummary>(child, 'RESULT', 'load generator', limitMs);
}
