// Load runs for the HTTP benchmarks: autocannon (closed loop) and an open
// loop generator, both summarised per status code. They run in a child
// process of their own (see loadgen.ts), apart from the server under test
// and from the benchmark runner, whose heap may be large from other targets.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { openLoop } from './open-loop.js';

/** What one load run measured, with every latency (ms) per status code, sorted. */
export interface LoadResult {
  requestsPerSecond: number;
  statuses: Map<number, number>;
  latencies: Map<number, number[]>;
  /** Socket errors and timeouts. */
  errors: number;
  timeouts: number;
  /** Responses received. */
  total: number;
}

/** A `LoadResult` reduced to what crosses the process boundary. */
export interface LoadSummary {
  requestsPerSecond: number;
  total: number;
  errors: number;
  timeouts: number;
  /** Responses per status code. */
  statuses: Record<string, number>;
  /** Latency percentiles (ms) per status code, when recorded. */
  latency: Record<string, { p50: number; p99: number }>;
  /** Server CPU time per response during the run, in µs (Linux, when `serverPid` was given). */
  serverCpuUsPerRequest?: number;
}

/** What a load child runs. */
export type LoadSpec = (
  | {
      kind: 'autocannon';
      connections: number;
      /** Keep per-status latencies (costs a little client CPU). */
      recordLatencies?: boolean;
    }
  | { kind: 'open-loop'; ratePerSecond: number }
) & {
  url: string;
  headers?: Record<string, string>;
  durationSeconds: number;
  /** A run of this length first, not measured. */
  warmupSeconds?: number;
  /** Server process whose CPU time per request to report. */
  serverPid?: number;
};

/** Runs a spec in this process (loadgen.ts calls it in a child). */
export async function runSpec(spec: LoadSpec): Promise<LoadSummary> {
  const once = (durationSeconds: number) =>
    spec.kind === 'autocannon'
      ? load({
          url: spec.url,
          connections: spec.connections,
          durationSeconds,
          headers: spec.headers ?? {},
          recordLatencies: spec.recordLatencies ?? false,
        })
      : openLoop({
          url: spec.url,
          headers: spec.headers ?? {},
          ratePerSecond: spec.ratePerSecond,
          durationSeconds,
        });
  if (spec.warmupSeconds !== undefined && spec.warmupSeconds > 0) await once(spec.warmupSeconds);
  const before = spec.serverPid === undefined ? undefined : cpuTimeMs(spec.serverPid);
  const result = await once(spec.durationSeconds);
  const after = spec.serverPid === undefined ? undefined : cpuTimeMs(spec.serverPid);
  const summary = summarize(result);
  if (before !== undefined && after !== undefined && result.total > 0) {
    summary.serverCpuUsPerRequest = ((after - before) * 1000) / result.total;
  }
  return summary;
}

/** Options of `load`. */
export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  headers?: Record<string, string>;
  /** Per-request timeout, in seconds. @default 10 */
  timeoutSeconds?: number;
  /** Keep per-status latencies. */
  recordLatencies?: boolean;
}

/** Runs autocannon once and collects per-status counts (and latencies). */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const statuses = new Map<number, number>();
  const latencies = new Map<number, number[]>();
  let instance: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationSeconds,
        headers: options.headers ?? {},
        timeout: options.timeoutSeconds ?? 10,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
  if (options.recordLatencies) {
    instance?.on('response', (_client, statusCode, _bytes, responseTime) => {
      let list = latencies.get(statusCode);
      if (list === undefined) {
        list = [];
        latencies.set(statusCode, list);
      }
      list.push(responseTime);
    });
  }
  const result = await finished;
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
    statuses.set(Number(code), (stats as { count: number }).count);
  }
  for (const list of latencies.values()) list.sort((a, b) => a - b);
  let total = 0;
  for (const count of statuses.values()) total += count;
  return {
    requestsPerSecond: result.requests.average,
    statuses,
    latencies,
    errors: result.errors,
    timeouts: result.timeouts,
    total,
  };
}

export function summarize(result: LoadResult): LoadSummary {
  const latency: LoadSummary['latency'] = {};
  for (const [status, list] of result.latencies) {
    latency[status] = { p50: percentile(list, 50), p99: percentile(list, 99) };
  }
  return {
    requestsPerSecond: result.requestsPerSecond,
    total: result.total,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses: Object.fromEntries(result.statuses),
    latency,
  };
}

/** The `p`-th percentile (0–100) of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] as number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * CPU time (user + system) a process has used, in ms, from /proc (Linux);
 * undefined elsewhere. Steadier than req/s when other work shares the machine.
 */
export function cpuTimeMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksPerSecond = 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}
