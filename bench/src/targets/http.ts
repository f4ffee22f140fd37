// P1: GET /hello through sessionMiddleware (MemoryStore, valid X-Session-Id)
//     vs bare Express, req/s ratio, same run.
// P2: the same vs express-session with its MemoryStore and a session cookie.
// P5: 10x overload past capacity: p99 of admitted requests vs unloaded p99,
//     every request answered 200 or 503, p99 of the 503s.
//
// Servers and load generators each run in a child process of their own
// (node + tsx). Two cores only: throughput runs use 10 connections, 3 s per
// variant, five rounds with fresh processes and the variants interleaved; the
// median of per-round ratios is reported, with server CPU time per request
// (from /proc) as a cross-check, and a control (a middleware that only calls
// next()) that shows what any middleware costs and how noisy the run was.
import { type ChildServer, runLoad, startChildServer } from '../http/children.js';
import { type LoadSummary, median } from '../http/load.js';
import type { BenchResult, BenchTarget } from '../target.js';

const CONNECTIONS = 10;
const SECONDS = 3;
const ROUNDS = 5;
const WARMUP_SECONDS = 1;

// P5: capacity 50, each admitted request held 500 ms (a slow upstream call,
// the case load shedding exists for), so the node admits at most 100 req/s.
// Overload offers 10x that, 1,000 req/s arriving steadily (open loop: as many
// requests in flight as that rate over 500 ms makes, 10x the slots); the
// unloaded baseline offers half the capacity. A second, informational run
// uses autocannon with 500 connections that retry the moment they get a 503
// (a retry storm, bounded by the node's CPU rather than by its slots).
const CAPACITY = 50;
const WORK_MS = 500;
const OVERLOAD_CONNECTIONS = CAPACITY * 10;
const OVERLOAD_RATE = (CAPACITY * 1000 * 10) / WORK_MS;
const UNLOADED_RATE = CAPACITY / 2 / (WORK_MS / 1000);
const P5_SECONDS = 8;

const fmt = (value: number, digits = 2) => value.toFixed(digits);

type Variant = 'bare' | 'noop' | 'morgan' | 'express-session';
const VARIANTS: readonly Variant[] = ['bare', 'noop', 'morgan', 'express-session'];

/** Starts every variant in a fresh child process and returns the headers each needs. */
async function startVariants() {
  const servers = Object.fromEntries(
    await Promise.all(VARIANTS.map(async (name) => [name, await startChildServer(name)] as const)),
  ) as Record<Variant, ChildServer>;
  try {
    const login = await fetch(`${servers['express-session'].url}/login`);
    const cookie = login.headers.get('set-cookie')?.split(';')[0];
    if (cookie === undefined) throw new Error('express-session did not set a cookie');
    const sessionId = servers.morgan.sessionId;
    if (sessionId === undefined) throw new Error('morgan server did not report a session');
    const headers: Record<Variant, Record<string, string>> = {
      bare: {},
      noop: {},
      morgan: { 'x-session-id': sessionId },
      'express-session': { cookie },
    };
    return { servers, headers };
  } catch (error) {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    throw error;
  }
}

async function throughput(): Promise<BenchResult[]> {
  const samples: Record<Variant, LoadSummary[]> = {
    bare: [],
    noop: [],
    morgan: [],
    'express-session': [],
  };
  // Each round starts fresh server processes (a process's own JIT and memory
  // layout can bias it by several percent) and runs every variant back to
  // back in a rotated order, so the ratios of a round compare runs that saw
  // the same background load.
  for (let round = 0; round < ROUNDS; round += 1) {
    const { servers, headers } = await startVariants();
    try {
      for (let i = 0; i < VARIANTS.length; i += 1) {
        const name = VARIANTS[(i + round) % VARIANTS.length] as Variant;
        const summary = await runLoad({
          kind: 'autocannon',
          url: `${servers[name].url}/hello`,
          connections: CONNECTIONS,
          durationSeconds: SECONDS,
          warmupSeconds: WARMUP_SECONDS,
          headers: headers[name],
          serverPid: servers[name].pid,
        });
        assertClean(name, summary, 200);
        samples[name].push(summary);
      }
    } finally {
      await Promise.all(Object.values(servers).map((server) => server.stop()));
    }
  }

  const ratio = (a: Variant, b: Variant) =>
    median(
      samples[a].map(
        (sample, round) =>
          sample.requestsPerSecond / (samples[b][round] as LoadSummary).requestsPerSecond,
      ),
    );
  const cpuRatio = (a: Variant, b: Variant): string => {
    const values = samples[a].map((sample, round) => {
      const other = (samples[b][round] as LoadSummary).serverCpuUsPerRequest;
      const mine = sample.serverCpuUsPerRequest;
      return mine === undefined || other === undefined ? Number.NaN : other / mine;
    });
    return values.some(Number.isNaN) ? '?' : `${fmt(median(values))}x`;
  };
  const rps = (name: Variant) =>
    samples[name].map((s) => Math.round(s.requestsPerSecond)).join('/');
  const p1 = ratio('morgan', 'bare');
  const p2 = ratio('morgan', 'express-session');
  return [
    {
      id: 'P1',
      what: 'GET /hello via sessionMiddleware vs bare Express (req/s)',
      measured: `${fmt(p1)}x`,
      target: '>= 0.95x',
      met: p1 >= 0.95,
      detail: `req/s per round: morgan ${rps('morgan')}, bare ${rps('bare')}; by server CPU per request ${cpuRatio('morgan', 'bare')}; control (a middleware that only calls next()) ${fmt(ratio('noop', 'bare'))}x; ${CONNECTIONS} connections, ${ROUNDS} rounds x ${SECONDS} s, medians of per-round ratios`,
    },
    {
      id: 'P2',
      what: 'GET /hello via sessionMiddleware vs express-session',
      measured: `${fmt(p2)}x`,
      target: '>= 1.5x',
      met: p2 >= 1.5,
      detail: `req/s per round: express-session + MemoryStore + cookie ${rps('express-session')}; by server CPU per request ${cpuRatio('morgan', 'express-session')}`,
    },
  ];
}

async function overload(): Promise<BenchResult[]> {
  await using server = await startChildServer('overload', {
    maxConcurrentRequests: CAPACITY,
    workMs: WORK_MS,
  });
  const sessionId = server.sessionId;
  if (sessionId === undefined) throw new Error('overload server did not report a session');
  const base = { url: `${server.url}/work`, headers: { 'x-session-id': sessionId } };

  const unloaded = await runLoad({
    ...base,
    kind: 'open-loop',
    ratePerSecond: UNLOADED_RATE,
    durationSeconds: P5_SECONDS,
    warmupSeconds: 2,
  });
  assertClean('unloaded', unloaded, 200);
  const loaded = await runLoad({
    ...base,
    kind: 'open-loop',
    ratePerSecond: OVERLOAD_RATE,
    durationSeconds: P5_SECONDS,
  });
  // Without pacing: 500 connections, each retrying the moment it gets a 503.
  const storm = await runLoad({
    ...base,
    kind: 'autocannon',
    connections: OVERLOAD_CONNECTIONS,
    durationSeconds: P5_SECONDS,
    recordLatencies: true,
  });

  const p = (summary: LoadSummary, status: number, which: 'p50' | 'p99') =>
    summary.latency[status]?.[which] ?? Number.NaN;
  const unloadedP99 = p(unloaded, 200, 'p99');
  const ratio = p(loaded, 200, 'p99') / unloadedP99;
  const shedP99 = p(loaded, 503, 'p99');
  const met = ratio <= 2 && answered(loaded) && shedP99 < 5;
  return [
    {
      id: 'P5',
      what: '10x overload: admitted p99 vs unloaded p99; 503 p99',
      measured: `${fmt(ratio)}x, 503 p99 ${fmt(shedP99)} ms`,
      target: '<= 2x, all answered, 503 p99 < 5 ms',
      met,
      detail: `capacity ${CAPACITY} slots, ${WORK_MS} ms per request (at most ${(CAPACITY * 1000) / WORK_MS} req/s admitted); unloaded ${UNLOADED_RATE} req/s: p99 ${fmt(unloadedP99)} ms; overload ${OVERLOAD_RATE} req/s arriving steadily: admitted p99 ${fmt(p(loaded, 200, 'p99'))} ms, 503 p50 ${fmt(p(loaded, 503, 'p50'))} ms; ${counts(loaded)}; every request answered 200 or 503: ${answered(loaded) ? 'yes' : 'NO'}`,
    },
    {
      id: 'P5s',
      what: 'retry storm (500 conn, no pacing): same figures',
      measured: `${fmt(p(storm, 200, 'p99') / unloadedP99)}x, 503 p99 ${fmt(p(storm, 503, 'p99'))} ms`,
      target: '- (informational)',
      detail: `${Math.round(storm.requestsPerSecond)} req/s, CPU-bound; ${counts(storm)}; every request answered 200 or 503: ${answered(storm) ? 'yes' : 'NO'}`,
    },
  ];
}

function answered(summary: LoadSummary): boolean {
  const ok = summary.statuses[200] ?? 0;
  const shed = summary.statuses[503] ?? 0;
  return ok + shed === summary.total && summary.errors === 0 && summary.timeouts === 0;
}

function counts(summary: LoadSummary): string {
  const ok = summary.statuses[200] ?? 0;
  const shed = summary.statuses[503] ?? 0;
  return `${ok} x 200, ${shed} x 503, ${summary.total - ok - shed} other, ${summary.errors} socket errors, ${summary.timeouts} timeouts`;
}

function assertClean(name: string, summary: LoadSummary, status: number): void {
  const ok = summary.statuses[status] ?? 0;
  if (summary.errors > 0 || summary.timeouts > 0 || ok !== summary.total || ok === 0) {
    throw new Error(
      `${name}: ${ok}/${summary.total} answered ${status}, ${summary.errors} errors, ${summary.timeouts} timeouts`,
    );
  }
}

const target: BenchTarget = {
  ids: ['P1', 'P2', 'P5'],
  async run() {
    const wanted = new Set(process.argv.slice(2).map((id) => id.toUpperCase()));
    const all = wanted.size === 0;
    const rows: BenchResult[] = [];
    if (all || wanted.has('P1') || wanted.has('P2')) rows.push(...(await throughput()));
    if (all || wanted.has('P5')) rows.push(...(await overload()));
    return rows;
  },
};

export default target;
