// P9: soak. Mixed HTTP + WebSocket load for a few minutes, sessions created
// and ended all along (see src/soak/users.ts): the node's heap and RSS,
// measured after garbage collection, stay flat (≤ 1 MiB per 10,000 sessions
// created and ended), and nothing is left behind: 0 sessions, requests,
// streams or sockets once the load stops.
//
// The node (src/node/server.ts, library defaults except the per-address
// creation limit, which one loopback address creating every session would
// hit) and the load generator run in child processes of their own. A warm-up
// run first (JIT, pools, the allocator's arenas at their working size: RSS
// still steps up in the first minute of load), then the baseline, then the
// soak in ROUNDS rounds; after the warm-up and after each round the users
// stop, the node goes idle and is measured after GC, so every point compares
// like with like. Growth = last idle point - baseline, per 10,000 sessions
// created (and ended) in between; the rounds show whether it climbs.
//
// Duration: BENCH_SOAK_SECONDS of load (default 180, in 3 rounds);
// BENCH_SHORT=1 runs 2 rounds of 10 s after a 5 s warm-up.
import { kib, mib, type NodeServer, startLoadChild, startNodeServer } from '../node/children.js';
import type { NodeCounts } from '../node/server.js';
import { writeResults } from '../results.js';
import { emptySoakResult, type SoakResult, type SoakSpec } from '../soak/result.js';
import type { BenchResult, BenchTarget } from '../target.js';

const SHORT = process.env.BENCH_SHORT === '1';
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? (SHORT ? 20 : 180));
const ROUNDS = SHORT ? 2 : 3;
const WARMUP_SECONDS = SHORT ? 5 : 60;
const USERS = 32;
const LIMIT_PER_10K = 1024 * 1024;

/** The idle node after a round, measured after GC. */
interface Point {
  afterSeconds: number;
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

/** The rounds' figures added up. */
function sumRounds(rounds: readonly SoakResult[]): SoakResult {
  const sum = emptySoakResult();
  for (const round of rounds) {
    for (const key of [
      'cycles',
      'sessionsCreated',
      'sessionsEnded',
      'httpRequests',
      'wsSockets',
      'wsCalls',
      'elapsedSeconds',
    ] as const) {
      sum[key] += round[key];
    }
    for (const [kind, n] of Object.entries(round.errors))
      sum.errors[kind] = (sum.errors[kind] ?? 0) + n;
    for (const [code, n] of Object.entries(round.closeCodes)) {
      sum.closeCodes[code] = (sum.closeCodes[code] ?? 0) + n;
    }
  }
  return sum;
}

async function run(): Promise<BenchResult[]> {
  await using server = await startNodeServer({ createRateLimit: false });
  const warmup = await runUsers(server.url, WARMUP_SECONDS);
  await idle(server);
  const baseline = await server.measure();

  const points: Point[] = [
    { afterSeconds: 0, created: 0, heapUsed: baseline.heapUsed, rss: baseline.rss },
  ];
  const rounds: SoakResult[] = [];
  const roundSeconds = SOAK_SECONDS / ROUNDS;
  let settled = baseline;
  let final = baseline;
  for (let round = 1; round <= ROUNDS; round += 1) {
    rounds.push(await runUsers(server.url, roundSeconds));
    settled = await idle(server);
    final = await server.measure();
    points.push({
      afterSeconds: Math.round(round * roundSeconds),
      created: final.totalSessionsCreated - baseline.totalSessionsCreated,
      heapUsed: final.heapUsed,
      rss: final.rss,
    });
  }
  const load = sumRounds(rounds);

  const created = final.totalSessionsCreated - baseline.totalSessionsCreated;
  const ended = final.totalSessionsDeleted - baseline.totalSessionsDeleted;
  const units = created / 10_000;
  const heapPer10k = (final.heapUsed - baseline.heapUsed) / units;
  const rssPer10k = (final.rss - baseline.rss) / units;
  const series = (key: 'heapUsed' | 'rss') =>
    points.map((p) => `${p.afterSeconds}s:${mib(p[key]).replace(' MiB', '')}`).join(' ');
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
    idlePoints: points,
    load,
    rounds,
    warmup: { sessionsCreated: warmup.sessionsCreated, errors: warmup.errors },
  });

  const rate = created / load.elapsedSeconds;
  const detail =
    `${created} sessions created and ${ended} ended in ${Math.round(load.elapsedSeconds)} s of load ` +
    `(${ROUNDS} rounds, after a ${WARMUP_SECONDS} s warm-up; ${Math.round(rate)}/s, ${USERS} users; ${load.httpRequests} HTTP requests, ${load.wsSockets} sockets, ` +
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
        `heap ${mib(baseline.heapUsed)} -> ${mib(final.heapUsed)}; idle after each round (MiB): ` +
        `${series('heapUsed')}; ${detail}`,
    },
    {
      id: 'P9',
      what: `soak${mode}: RSS growth per 10k sessions, after GC`,
      measured: `${kib(rssPer10k)} / 10k`,
      target: '<= 1 MiB per 10,000 sessions',
      met: rssPer10k <= LIMIT_PER_10K,
      detail: `RSS ${mib(baseline.rss)} -> ${mib(final.rss)}; idle after each round (MiB): ${series('rss')}`,
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
