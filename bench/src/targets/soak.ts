// P9: soak. Mixed HTTP + WebSocket load for a few minutes, sessions created
// and ended all along (see src/soak/users.ts): the node's heap and RSS,
// measured after garbage collection, stay flat (≤ 1 MiB per 10,000 sessions
// created and ended), and nothing is left behind: 0 sessions, requests,
// streams or sockets once the load stops.
//
// The node (src/node/server.ts, library defaults except the per-address
// creation limit, which one loopback address creating every session would
// hit) and the load generator run in child processes of their own. A warm-up
// run first (JIT, pools, maps at their working size), then the baseline
// (after GC), then the soak, sampled after GC every SAMPLE_SECONDS, then the
// final figures once the node is idle: growth = final - baseline, per
// 10,000 sessions created (and ended) in between.
//
// Duration: BENCH_SOAK_SECONDS (default 180); BENCH_SHORT=1 runs 20 s.
import { kib, mib, type NodeServer, startLoadChild, startNodeServer } from '../node/children.js';
import type { NodeCounts } from '../node/server.js';
import { writeResults } from '../results.js';
import type { SoakResult, SoakSpec } from '../soak/users.js';
import type { BenchResult, BenchTarget } from '../target.js';

const SHORT = process.env.BENCH_SHORT === '1';
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? (SHORT ? 20 : 180));
const WARMUP_SECONDS = SHORT ? 5 : 20;
const SAMPLE_SECONDS = 30;
const USERS = 32;
const LIMIT_PER_10K = 1024 * 1024;

interface Sample {
  atSeconds: number;
  created: number;
  heapUsed: number;
  rss: number;
}

function runUsers(url: string, durationSeconds: number): Promise<SoakResult> {
  const spec: SoakSpec = { url, users: USERS, durationSeconds };
  return startLoadChild<SoakResult>('soak/users.ts', spec, (durationSeconds + 60) * 1000).result;
}

/** Waits until the node holds no request, stream or socket (calls finish after their answers). */
async function idle(server: NodeServer): Promise<NodeCounts> {
  const deadline = Date.now() + 15_000;
  let counts = await server.counts();
  while (
    (counts.activeRequests > 0 ||
      counts.inFlightRequests > 0 ||
      counts.streams > 0 ||
      counts.sockets > 0) &&
    Date.now() < deadline
  ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    counts = await server.counts();
  }
  return counts;
}

async function run(): Promise<BenchResult[]> {
  await using server = await startNodeServer({ createRateLimit: false });
  const warmup = await runUsers(server.url, WARMUP_SECONDS);
  await idle(server);
  const baseline = await server.measure();

  const samples: Sample[] = [];
  const started = performance.now();
  const soak = runUsers(server.url, SOAK_SECONDS);
  let running = true;
  void soak.finally(() => {
    running = false;
  });
  // Samples during the soak (each one collects garbage: a short pause of the node).
  const sampling = (async () => {
    while (running) {
      await Promise.race([
        soak.catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, SAMPLE_SECONDS * 1000)),
      ]);
      if (!running) return;
      const now = await server.measure();
      samples.push({
        atSeconds: Math.round((performance.now() - started) / 1000),
        created: now.totalSessionsCreated - baseline.totalSessionsCreated,
        heapUsed: now.heapUsed,
        rss: now.rss,
      });
    }
  })();
  const load = await soak;
  await sampling;
  const settled = await idle(server);
  const final = await server.measure();

  const created = final.totalSessionsCreated - baseline.totalSessionsCreated;
  const ended = final.totalSessionsDeleted - baseline.totalSessionsDeleted;
  const units = created / 10_000;
  const heapPer10k = (final.heapUsed - baseline.heapUsed) / units;
  const rssPer10k = (final.rss - baseline.rss) / units;
  const trend = [
    { atSeconds: 0, created: 0, heapUsed: baseline.heapUsed, rss: baseline.rss },
    ...samples,
    {
      atSeconds: Math.round((performance.now() - started) / 1000),
      created,
      heapUsed: final.heapUsed,
      rss: final.rss,
    },
  ];
  // Samples taken under load hold the users' live sessions and sockets (and
  // those still closing): a working set, not comparable with the idle
  // baseline and final figures, but a leak would show as a climb.
  const during = (key: 'heapUsed' | 'rss') =>
    samples.map((s) => `${s.atSeconds}s:${mib(s[key]).replace(' MiB', '')}`).join(' ');
  const leftBehind = {
    sessions: settled.sessions,
    activeRequests: settled.activeRequests,
    inFlightRequests: settled.inFlightRequests,
    streams: settled.streams,
    sockets: settled.sockets,
  };
  const clean = Object.values(leftBehind).every((value) => value === 0);
  const errors = Object.values(load.errors).reduce((sum, n) => sum + n, 0);
  const mode = SHORT || SOAK_SECONDS < 120 ? ' (short)' : '';

  writeResults('P9', {
    target:
      'heap and RSS flat (<= 1 MiB per 10,000 sessions created and ended), 0 sessions, requests or sockets left behind',
    soakSeconds: SOAK_SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    users: USERS,
    sessionsCreated: created,
    sessionsEnded: ended,
    heapGrowthBytesPer10k: Math.round(heapPer10k),
    rssGrowthBytesPer10k: Math.round(rssPer10k),
    baseline,
    final,
    leftBehind,
    samples: trend,
    load,
    warmup: { sessionsCreated: warmup.sessionsCreated, errors: warmup.errors },
  });

  const rate = created / load.elapsedSeconds;
  const detail =
    `${created} sessions created and ${ended} ended in ${Math.round(load.elapsedSeconds)} s of soak ` +
    `(${Math.round(rate)}/s, ${USERS} users; ${load.httpRequests} HTTP requests, ${load.wsSockets} sockets, ` +
    `${load.wsCalls} WebSocket calls; ${errors} errors${errors > 0 ? ` ${JSON.stringify(load.errors)}` : ''}; ` +
    `close codes ${JSON.stringify(load.closeCodes)})`;
  return [
    {
      id: 'P9',
      what: `soak${mode}: heap growth per 10k sessions, after GC`,
      measured: `${kib(heapPer10k)} / 10k`,
      target: '<= 1 MiB per 10,000 sessions',
      met: heapPer10k <= LIMIT_PER_10K,
      detail:
        `heap ${mib(baseline.heapUsed)} idle before -> ${mib(final.heapUsed)} idle after; ` +
        `under load (MiB): ${during('heapUsed')}; ${detail}`,
    },
    {
      id: 'P9',
      what: `soak${mode}: RSS growth per 10k sessions, after GC`,
      measured: `${kib(rssPer10k)} / 10k`,
      target: '<= 1 MiB per 10,000 sessions',
      met: rssPer10k <= LIMIT_PER_10K,
      detail: `RSS ${mib(baseline.rss)} idle before -> ${mib(final.rss)} idle after; under load (MiB): ${during('rss')}`,
    },
    {
      id: 'P9',
      what: `soak${mode}: left behind once the load stopped`,
      measured: `${leftBehind.sessions} sessions, ${leftBehind.activeRequests} req, ${leftBehind.sockets} sockets`,
      target: '0 sessions, requests or sockets',
      met: clean && ended === created,
      detail: `streams ${leftBehind.streams}, requests holding a slot ${leftBehind.inFlightRequests}; raw figures in bench/results/P9.json`,
    },
  ];
}

const target: BenchTarget = { ids: ['P9'], run };
export default target;
