// P5: 10x overload. SPEC's handler (GET /work: a 5 ms wait, then ~0.1 ms of
// CPU) behind bare Express, behind sessionMiddleware with the static limit
// (20) and behind sessionMiddleware with adaptive capacity (the library's
// defaults), each driven by 200 closed-loop clients: 10x past the point where
// latency starts to grow (10 to 20 in flight on this machine; the frontier
// rows below show where). Two kinds of client: ones that honour Retry-After
// as the SDK does (Retry-After plus full jitter) and ones that retry at once.
//
// Per row, in a fresh server process: the unloaded run (5 clients, below the
// knee: latency is the handler's own), then the overload run. Reported:
// goodput (200s per second) vs bare Express with the same kind of client,
// admitted p99 vs the row's own unloaded p99, whether every request was
// answered (200 or 503; no socket error, no timeout, none left unanswered)
// and the 503s' p99; with the server's CPU and event-loop use.
//
// A separate row runs adaptive capacity with sessionMiddleware's
// slowEarlyRetries against clients that ignore Retry-After: their early
// retries' 503s are held until Retry-After has passed (by design, so its 503
// p99 is about a second), which keeps their retries from taking the CPU.
//
// The frontier rows (informational) run bare Express with 20 to 80 clients:
// what a limiter that cost nothing would get at that concurrency, the best
// any limit can do on this machine. The row names the best goodput whose p99
// stays within 2x of unloaded: no admission limit can do better than that
// with clients that honour Retry-After.
//
// Server and clients each run in a process of their own (two cores: one
// each). Raw figures go to bench/results/P5.json.
//
// Exploring: BENCH_P5_ROWS=adaptive/ignore,slowed/ignore runs only those rows
// (and bare); BENCH_P5_ADAPTIVE='{"tolerance":2}' changes the adaptive
// options; BENCH_P5_SECONDS, BENCH_P5_WARMUP the run lengths.
import { spawnSync } from 'node:child_process';
import { startIpcChild } from '../ipc-child.js';
import { startLoadChild } from '../node/children.js';
import type { ClientsResult, ClientsSpec } from '../overload/clients.js';
import type { OverloadServerSpec, OverloadStats } from '../overload/server.js';
import { writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';

const CLIENTS = 200;
const UNLOADED_CLIENTS = 5;
const FRONTIER_CLIENTS = [20, 30, 40, 60, 80];
const STATIC_LIMIT = 20;
const WAIT_MS = 5;
const CPU_MS = 0.1;
const WARMUP_SECONDS = Number(process.env.BENCH_P5_WARMUP ?? 5);
const SECONDS = Number(process.env.BENCH_P5_SECONDS ?? 20);
const UNLOADED_SECONDS = 10;
const ADAPTIVE = JSON.parse(process.env.BENCH_P5_ADAPTIVE ?? '{}') as NonNullable<
  OverloadServerSpec['capacity']
>;

type Variant = OverloadServerSpec['variant'];
type Kind = ClientsSpec['retry'];

interface Row {
  variant: Variant;
  kind: Kind;
  /** sessionMiddleware's slowEarlyRetries (reported as a row of its own). */
  slowEarlyRetries: boolean;
  unloaded: ClientsResult;
  loaded: ClientsResult;
  server: OverloadStats;
}

const fmt = (value: number, digits = 2) => value.toFixed(digits);
const p99 = (result: ClientsResult, status: number) => result.latency[status]?.p99 ?? Number.NaN;
const p50 = (result: ClientsResult, status: number) => result.latency[status]?.p50 ?? Number.NaN;

function clients(url: string, sessionIds: string[], spec: Partial<ClientsSpec>) {
  const full: ClientsSpec = {
    url,
    path: '/work',
    sessionIds,
    connections: CLIENTS,
    retry: 'honour',
    durationSeconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    ...spec,
  };
  const limitMs = (full.warmupSeconds + full.durationSeconds + 60) * 1000;
  return startLoadChild<ClientsResult>('overload/clients.ts', full, limitMs).result;
}

async function startServer(variant: Variant, slowEarlyRetries: boolean) {
  const spec: OverloadServerSpec = {
    variant,
    slowEarlyRetries,
    staticLimit: STATIC_LIMIT,
    capacity: ADAPTIVE,
    sessions: CLIENTS,
    waitMs: WAIT_MS,
    cpuMs: CPU_MS,
  };
  const server = await startIpcChild<'sessions' | 'stats'>({
    script: new URL('../overload/server.ts', import.meta.url).pathname,
    args: [JSON.stringify(spec)],
    name: `P5 ${variant}`,
  });
  const { sessionIds } = await server.request<{ sessionIds: string[] }>('sessions');
  const stats = async () => {
    const { id: _id, ...stats } = await server.request<OverloadStats & { id?: number }>('stats');
    return stats;
  };
  return {
    server,
    url: `http://127.0.0.1:${server.port}`,
    // Bare Express ignores the header; one id keeps the request the same size.
    ids: sessionIds.length > 0 ? sessionIds : ['00000000-0000-4000-8000-000000000000'],
    stats,
  };
}

async function runRow(variant: Variant, kind: Kind, slowEarlyRetries = false): Promise<Row> {
  const { server, url, ids, stats } = await startServer(variant, slowEarlyRetries);
  try {
    const unloaded = await clients(url, ids, {
      connections: UNLOADED_CLIENTS,
      retry: kind,
      durationSeconds: UNLOADED_SECONDS,
      warmupSeconds: 2,
    });
    await stats();
    const loaded = await clients(url, ids, { retry: kind });
    return { variant, kind, slowEarlyRetries, unloaded, loaded, server: await stats() };
  } finally {
    await server.stop();
  }
}

/** Bare Express at a few concurrencies past the knee, honouring clients (they never see a 503). */
async function frontier(): Promise<{
  unloaded: ClientsResult;
  runs: Record<string, ClientsResult>;
}> {
  const { server, url, ids } = await startServer('bare', false);
  try {
    const unloaded = await clients(url, ids, {
      connections: UNLOADED_CLIENTS,
      durationSeconds: UNLOADED_SECONDS,
      warmupSeconds: 2,
    });
    const runs: Record<string, ClientsResult> = {};
    for (const connections of FRONTIER_CLIENTS) {
      runs[connections] = await clients(url, ids, {
        connections,
        warmupSeconds: 2,
        durationSeconds: SECONDS / 2,
      });
    }
    return { unloaded, runs };
  } finally {
    await server.stop();
  }
}

/** The commit measured, `+dirty` when files outside bench/results differ from it. */
function commit(): string {
  const git = (args: string[]) => spawnSync('git', args, { encoding: 'utf8' }).stdout.trim();
  const changed = git(['status', '--porcelain', '--untracked-files=no', '--', ':(top)']);
  return `${git(['rev-parse', 'HEAD'])}${changed === '' ? '' : '+dirty'}`;
}

function answered(result: ClientsResult): boolean {
  const ok = result.statuses[200] ?? 0;
  const shed = result.statuses[503] ?? 0;
  const total = Object.values(result.statuses).reduce((sum, n) => sum + n, 0);
  return (
    ok + shed === total &&
    result.socketErrors === 0 &&
    result.timeouts === 0 &&
    result.unanswered === 0
  );
}

function limitSummary(stats: OverloadStats): string {
  if (stats.trace.length === 0) return '';
  const limits = stats.trace.map(([, limit]) => limit).sort((a, b) => a - b);
  const median = limits[Math.floor(limits.length / 2)];
  return `; limit min ${limits[0]} / median ${median} / max ${limits.at(-1)}`;
}

function report(row: Row, bare: Row | undefined): BenchResult {
  const { loaded, unloaded } = row;
  const goodputRatio = bare === undefined ? Number.NaN : loaded.goodput / bare.loaded.goodput;
  const latencyRatio = p99(loaded, 200) / p99(unloaded, 200);
  const shed = loaded.statuses[503] ?? 0;
  const allAnswered = answered(loaded);
  const goodputTarget = row.kind === 'honour' ? 0.9 : 0.6;
  const shedText = shed === 0 ? 'no 503' : `503 p99 ${fmt(p99(loaded, 503))} ms`;
  const base = goodputRatio >= goodputTarget && latencyRatio <= 2 && allAnswered;
  let target = '- (for comparison)';
  let met: boolean | undefined;
  if (row.variant === 'adaptive' && !row.slowEarlyRetries) {
    target = `>= ${goodputTarget}x, p99 <= 2x, all answered, 503 p99 < 5 ms`;
    met = base && (shed === 0 || p99(loaded, 503) < 5);
  } else if (row.slowEarlyRetries) {
    target = `>= ${goodputTarget}x, p99 <= 2x, all answered (503s held)`;
    met = base;
  }
  const name = row.slowEarlyRetries ? 'adaptive + slowEarlyRetries' : row.variant;
  const { server } = row;
  return {
    id: 'P5',
    what: `${name}, clients that ${row.kind} Retry-After`,
    measured:
      row.variant === 'bare'
        ? `${Math.round(loaded.goodput)} 200s/s, p99 ${fmt(latencyRatio)}x`
        : `${fmt(goodputRatio)}x bare, p99 ${fmt(latencyRatio)}x, ${shedText}`,
    target,
    ...(met !== undefined && { met }),
    detail:
      `goodput ${Math.round(loaded.goodput)} 200s/s; admitted p50 ${fmt(p50(loaded, 200))} ms, ` +
      `p99 ${fmt(p99(loaded, 200))} ms vs unloaded p99 ${fmt(p99(unloaded, 200))} ms ` +
      `(${UNLOADED_CLIENTS} clients, ${Math.round(unloaded.goodput)}/s); ` +
      `${loaded.statuses[200] ?? 0} x 200, ${shed} x 503` +
      `${shed > 0 ? ` (p50 ${fmt(p50(loaded, 503))} ms)` : ''}, ` +
      `${loaded.socketErrors} socket errors, ${loaded.timeouts} timeouts, ${loaded.unanswered} unanswered: ` +
      `every request answered ${allAnswered ? 'yes' : 'NO'}${limitSummary(server)}; ` +
      `server CPU ${fmt(server.cpuMs / server.spanMs)} of a core, event loop busy ${fmt(server.eventLoopUtilization)}`,
  };
}

function frontierReport(
  result: Awaited<ReturnType<typeof frontier>>,
  bare: Row | undefined,
): BenchResult {
  const unloadedP99 = p99(result.unloaded, 200);
  const points = FRONTIER_CLIENTS.map((connections) => {
    const run = result.runs[connections] as ClientsResult;
    const ratio = bare === undefined ? Number.NaN : run.goodput / bare.loaded.goodput;
    return `${connections}: ${fmt(ratio)}x, p99 ${fmt(p99(run, 200) / unloadedP99)}x`;
  });
  // The most goodput any limit could keep while the admitted p99 stays within 2x.
  let best: { connections: number; ratio: number } | undefined;
  for (const connections of FRONTIER_CLIENTS) {
    const run = result.runs[connections] as ClientsResult;
    const ratio = bare === undefined ? Number.NaN : run.goodput / bare.loaded.goodput;
    if (p99(run, 200) / unloadedP99 <= 2 && (best === undefined || ratio > best.ratio))
      best = { connections, ratio };
  }
  const bound =
    best === undefined
      ? 'no concurrency kept p99 within 2x'
      : `best within p99 2x: ${fmt(best.ratio)}x at ${best.connections}`;
  return {
    id: 'P5f',
    what: `frontier: bare Express at ${FRONTIER_CLIENTS.join(' / ')} in flight`,
    measured: `${bound}; ${points.join('; ')}`,
    target: '- (informational)',
    detail:
      `goodput vs bare with 200 clients, p99 vs bare unloaded (${fmt(unloadedP99)} ms): ` +
      'what a limit that cost nothing would get at that concurrency; ' +
      FRONTIER_CLIENTS.map((connections) => {
        const run = result.runs[connections] as ClientsResult;
        return `${connections} clients ${Math.round(run.goodput)}/s, p50 ${fmt(p50(run, 200))} ms, p99 ${fmt(p99(run, 200))} ms`;
      }).join('; '),
  };
}

async function run(): Promise<BenchResult[]> {
  const only = process.env.BENCH_P5_ROWS?.split(',').map((row) => row.trim());
  const wanted = (name: string) => only === undefined || only.includes(name);
  const rows: Row[] = [];
  for (const kind of ['honour', 'ignore'] as const) {
    for (const variant of ['bare', 'static', 'adaptive'] as const) {
      if (variant !== 'bare' && !wanted(`${variant}/${kind}`)) continue;
      rows.push(await runRow(variant, kind));
    }
  }
  if (wanted('slowed/ignore')) rows.push(await runRow('adaptive', 'ignore', true));
  const edge = wanted('frontier') ? await frontier() : undefined;
  writeResults('P5', {
    commit: commit(),
    target:
      'honouring: goodput >= 0.9x bare, admitted p99 <= 2x unloaded; ignoring: goodput >= 0.6x bare, admitted p99 <= 2x unloaded; every request answered; 503 p99 < 5 ms',
    clients: CLIENTS,
    unloadedClients: UNLOADED_CLIENTS,
    staticLimit: STATIC_LIMIT,
    handler: { waitMs: WAIT_MS, cpuMs: CPU_MS },
    seconds: { warmup: WARMUP_SECONDS, measured: SECONDS, unloaded: UNLOADED_SECONDS },
    adaptive: { mode: 'adaptive', ...ADAPTIVE },
    rows,
    ...(edge !== undefined && { frontier: edge }),
  });
  const bareOf = (kind: Kind) => rows.find((row) => row.variant === 'bare' && row.kind === kind);
  const results = rows.map((row) => report(row, bareOf(row.kind)));
  if (edge !== undefined) results.push(frontierReport(edge, bareOf('honour')));
  return results;
}

const target: BenchTarget = { ids: ['P5'], run };
export default target;
