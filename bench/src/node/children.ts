// Child processes of P9 and P10: the node under test (fork + IPC, see
// server.ts) and load generators that each run in a process of their own
// and print one line `RESULT <json>` when done.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIpcChild } from '../ipc-child.js';
import type { NodeCounts, NodeServerOptions, NodeServerRequest } from './server.js';

const here = dirname(fileURLToPath(import.meta.url));
const benchRoot = join(here, '..', '..');

/** The node under test, in its own process. */
export interface NodeServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** A session for the well-behaved clients, made on the server. */
  session(): Promise<string>;
  counts(): Promise<NodeCounts>;
  /** Counts and memory after garbage collection. */
  measure(): Promise<NodeCounts>;
  stop(): Promise<void>;
}

export async function startNodeServer(options: NodeServerOptions = {}): Promise<NodeServer> {
  const child = await startIpcChild<NodeServerRequest['cmd']>({
    script: join(here, 'server.ts'),
    args: [JSON.stringify(options)],
    nodeFlags: ['--expose-gc'],
    name: 'node',
  });
  const { port, request, stop } = child;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    session: async () => (await request<{ sessionId: string }>('session')).sessionId,
    counts: async () => withoutId(await request<NodeCounts & { id?: number }>('counts')),
    measure: async () => withoutId(await request<NodeCounts & { id?: number }>('measure')),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** An IPC answer without its request id. */
function withoutId({ id: _id, ...counts }: NodeCounts & { id?: number }): NodeCounts {
  return counts;
}

/** A load generator running `script` with `spec`; `result` resolves its RESULT line. */
export interface LoadChild<T> {
  readonly pid: number;
  readonly result: Promise<T>;
}

/** Starts `node --import tsx <script> '<spec json>'`; gives up after `timeoutMs`. */
export function startLoadChild<T>(script: string, spec: object, timeoutMs: number): LoadChild<T> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, '..', script), JSON.stringify(spec)],
    { cwd: benchRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const result = new Promise<T>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script}: no result within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = /^RESULT (.*)$/m.exec(buffered);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      resolve(JSON.parse(match[1]) as T);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}`));
    });
  });
  return { pid: child.pid ?? -1, result };
}

/** Resident set size of a process now, in bytes, from /proc (Linux); undefined elsewhere. */
export function rssOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/** Sorted values' `p`-th percentile (0–100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
