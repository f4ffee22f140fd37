// P10: abuse. One address floods `session.create` for 60 s while other
// clients use the node: the node's RSS grows by at most 50 MiB, the others'
// p99 stays within 2x their p99 on the unloaded node (same run), and they
// see no 503.
//
// Three child processes of their own: the node (src/node/server.ts, every
// limit at the library's default; no `trust proxy`, so req.ip is the
// socket's address), the attacker (src/abuse/flood.ts: 8 keep-alive
// connections bound to 127.0.0.2, each a closed loop of batches of 10
// `session.create` calls with 8 KB of metadata each, the attack of issue 13)
// and the others (src/abuse/others.ts, 4 connections from 127.0.0.1, each a
// steady closed loop of `session.get` on a session made before, with its
// X-Session-Id, and a 10 ms pause: users, who alone leave the node mostly
// idle). First the
// others alone (warm-up, then the unloaded run), then the others and the
// attacker together for 60 s, the node's RSS read from /proc every 250 ms.
//
// BENCH_SHORT=1 floods for 15 s instead (iteration only; SPEC says 60 s).
import type { FloodResult, FloodSpec } from '../abuse/flood.js';
import type { OthersResult, OthersSpec } from '../abuse/others.js';
import { cpuTimeMs } from '../http/load.js';
import { mib, rssOf, startLoadChild, startNodeServer } from '../node/children.js';
import { writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';

const SHORT = process.env.BENCH_SHORT === '1';
const FLOOD_SECONDS = SHORT ? 15 : 60;
const UNLOADED_SECONDS = SHORT ? 10 : 30;
const WARMUP_SECONDS = 5;
const OTHERS_CONNECTIONS = 4;
const OTHERS_THINK_MS = 10;
const ATTACKER = {
  localAddress: '127.0.0.2',
  connections: 8,
  batch: 10,
  metadataBytes: 8 * 1024,
  // Other attackers, to explore by hand: BENCH_P10_ATTACKER='{"batch":1,"metadataBytes":0}'.
  ...(JSON.parse(process.env.BENCH_P10_ATTACKER ?? '{}') as Partial<Omit<FloodSpec, 'url'>>),
};
const RSS_LIMIT = 50 * 1024 * 1024;

const fmt = (value: number, digits = 2) => value.toFixed(digits);

function othersChild(url: string, sessionId: string, durationSeconds: number, warmupSeconds = 0) {
  const spec: OthersSpec = {
    url,
    path: `/trpc/session.get?input=${encodeURIComponent('{"json":null}')}`,
    sessionId,
    connections: OTHERS_CONNECTIONS,
    thinkMs: OTHERS_THINK_MS,
    durationSeconds,
    warmupSeconds,
  };
  const limitMs = (durationSeconds + warmupSeconds + 60) * 1000;
  return startLoadChild<OthersResult>('abuse/others.ts', spec, limitMs);
}

function statuses(summary: OthersResult): string {
  return Object.entries(summary.statuses)
    .map(([status, n]) => `${n} x ${status}`)
    .join(', ');
}

async function run(): Promise<BenchResult[]> {
  await using server = await startNodeServer();
  const sessionId = await server.session();

  const unloaded = await othersChild(server.url, sessionId, UNLOADED_SECONDS, WARMUP_SECONDS)
    .result;
  const before = await server.counts();
  const rssBefore = rssOf(server.pid) ?? before.rss;

  let rssMax = rssBefore;
  const rssSamples: number[] = [];
  const floodSpec: FloodSpec = { url: server.url, durationSeconds: FLOOD_SECONDS, ...ATTACKER };
  const serverCpuBefore = cpuTimeMs(server.pid);
  const attacker = startLoadChild<FloodResult>(
    'abuse/flood.ts',
    floodSpec,
    (FLOOD_SECONDS + 60) * 1000,
  );
  const users = othersChild(server.url, sessionId, FLOOD_SECONDS);
  // CPU time (ms) each process used during the flood, read until it exits.
  const cpu = { server: 0, attacker: 0, others: 0 };
  const sampler = setInterval(() => {
    const rss = rssOf(server.pid);
    if (rss !== undefined) {
      rssSamples.push(rss);
      rssMax = Math.max(rssMax, rss);
    }
    cpu.server = (cpuTimeMs(server.pid) ?? 0) - (serverCpuBefore ?? 0);
    cpu.attacker = cpuTimeMs(attacker.pid) ?? cpu.attacker;
    cpu.others = cpuTimeMs(users.pid) ?? cpu.others;
  }, 250);
  let loaded: OthersResult;
  let flood: FloodResult;
  try {
    [loaded, flood] = await Promise.all([users.result, attacker.result]);
  } finally {
    clearInterval(sampler);
  }
  const rssEnd = rssOf(server.pid) ?? rssMax;
  const after = await server.counts();
  const afterGc = await server.measure();

  const p99 = (summary: OthersResult) => summary.latency.p99;
  const ratio = p99(loaded) / p99(unloaded);
  const othersShed = loaded.statuses[503] ?? 0;
  const othersOther = loaded.total - (loaded.statuses[200] ?? 0);
  const growth = rssMax - rssBefore;
  const created = after.totalSessionsCreated - before.totalSessionsCreated;
  const mode = SHORT ? ` (short: ${FLOOD_SECONDS} s)` : '';

  writeResults('P10', {
    target: "RSS grows <= 50 MiB; the others' p99 <= 2x unloaded; they see no 503",
    floodSeconds: FLOOD_SECONDS,
    unloadedSeconds: UNLOADED_SECONDS,
    attacker: ATTACKER,
    othersConnections: OTHERS_CONNECTIONS,
    othersThinkMs: OTHERS_THINK_MS,
    rss: {
      before: rssBefore,
      max: rssMax,
      end: rssEnd,
      afterGc: afterGc.rss,
      growthBytes: growth,
      samples: rssSamples.length,
    },
    others: {
      unloaded,
      loaded,
      p99Ratio: ratio,
      shed503: othersShed,
      notOk: othersOther,
    },
    flood,
    cpuMsDuringFlood: cpu,
    server: { before, after, afterGc, sessionsCreatedByAttacker: created },
  });

  const share = (ms: number) => `${Math.round(ms / 10 / flood.elapsedSeconds)}%`;
  const cpuDetail = `CPU during the flood: node ${share(cpu.server)}, attacker ${share(cpu.attacker)}, others ${share(cpu.others)} of one core`;
  const attackDetail =
    `attacker from ${ATTACKER.localAddress}: ${flood.requests} batches of ${ATTACKER.batch} session.create ` +
    `(${ATTACKER.metadataBytes / 1024} KB metadata each) over ${ATTACKER.connections} connections in ` +
    `${Math.round(flood.elapsedSeconds)} s, ${Math.round(flood.requests / flood.elapsedSeconds)}/s; statuses ` +
    `${JSON.stringify(flood.statuses)}; ${flood.sessionsCreated} sessions created (node: ${created}), ` +
    `refused ${JSON.stringify(flood.refusals)}; ${flood.socketErrors} socket errors`;
  return [
    {
      id: 'P10',
      what: `flood${mode}: node RSS growth, one address on session.create`,
      measured: mib(growth),
      target: '<= 50 MiB',
      met: growth <= RSS_LIMIT,
      detail:
        `RSS ${mib(rssBefore)} before, max ${mib(rssMax)} during, ${mib(rssEnd)} at the end, ` +
        `${mib(afterGc.rss)} after GC (${rssSamples.length} samples); ${attackDetail}`,
    },
    {
      id: 'P10',
      what: `flood${mode}: the others' p99 vs unloaded`,
      measured: `${fmt(ratio)}x (${fmt(p99(loaded))} ms)`,
      target: '<= 2x unloaded',
      met: ratio <= 2,
      detail:
        `others: ${OTHERS_CONNECTIONS} closed-loop connections from 127.0.0.1, GET session.get on one session, ` +
        `${OTHERS_THINK_MS} ms pause after each answer; ` +
        `unloaded ${UNLOADED_SECONDS} s: p50 ${fmt(unloaded.latency.p50)} ms, p99 ${fmt(p99(unloaded))} ms, ` +
        `p99.9 ${fmt(unloaded.latency.p999)} ms, ${Math.round(unloaded.requestsPerSecond)} req/s (${statuses(unloaded)}); ` +
        `during the flood: p50 ${fmt(loaded.latency.p50)} ms, p99 ${fmt(p99(loaded))} ms, ` +
        `p99.9 ${fmt(loaded.latency.p999)} ms, ${Math.round(loaded.requestsPerSecond)} req/s; ${cpuDetail}`,
    },
    {
      id: 'P10',
      what: `flood${mode}: 503s the others saw`,
      measured: `${othersShed} x 503`,
      target: 'no 503',
      met: othersShed === 0 && othersOther === 0 && loaded.socketErrors === 0,
      detail: `others during the flood: ${statuses(loaded)}; ${loaded.socketErrors} socket errors; raw figures in bench/results/P10.json`,
    },
  ];
}

const target: BenchTarget = { ids: ['P10'], run };
export default target;
