// P8: 1,000 SDK clients (@morgan/session-client in this process) subscribed
// to session.events on 3 real demo node processes sharing Redis, behind a
// real nginx (round robin, no sticky sessions), while chat events are
// published to their sessions all along (POST /api/chat through nginx).
// Phases (see src/failover/scenario.ts): a rolling restart (SIGTERM each node
// in turn, wait for its exit, start it, wait until ready) and a kill -9 of
// one node, then its restart. Reported per phase: sessions resumed (same id,
// never replaced), events lost / duplicated / gaps the SDK reported, the
// spread of the reconnects (drop → connected again, and the backoff delay the
// SDK drew for each first attempt: full jitter over [0, 1 s)), and the time
// until every client was connected again. Raw figures: bench/results/P8.json.
//
// One row per Redis (src/failover/redis-rows.ts), side by side: a
// redis-server, and a three-master Redis Cluster. BENCH_P8_CLIENTS changes
// the number of clients (default 1,000).
import { reconnectDefaults } from '@morgan/session-client';
import { redisRows } from '../failover/redis-rows.js';
import { runScenario, type ScenarioResult } from '../failover/scenario.js';
import type { Spread } from '../failover/stats.js';
import { writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';

const settings = {
  clients: Number(process.env.BENCH_P8_CLIENTS ?? 1_000),
  nodes: 3,
  ratePerSecond: 200,
  connectBatch: 50,
  steadyMs: 5_000,
  afterMs: 3_000,
  settleTimeoutMs: 60_000,
  deliveryTimeoutMs: 15_000,
  warmupTimeoutMs: 20_000,
};

const TARGET = 'all resumed, 0 lost or dup, spread by jitter';
const BASE_MS = reconnectDefaults.baseDelayMs;
/** Standard deviation of a uniform delay over [0, base): what full jitter alone gives. */
const JITTER_STDDEV = BASE_MS / Math.sqrt(12);

const spread = (s: Spread) => `p50 ${s.p50} / p95 ${s.p95} / max ${s.max} ms`;

type Phase = ScenarioResult['phases'][number];

function phaseRows(result: ScenarioResult, figures: Phase, suffix: string): BenchResult[] {
  const name =
    figures.phase === 'rolling'
      ? `rolling restart (SIGTERM x${figures.steps.length})`
      : 'kill -9 of one node';
  const { events } = figures;
  const steps = figures.steps
    .map(
      (s) =>
        `${s.node} ${s.signal}: exit ${s.exitMs} ms (${s.exit?.signal ?? `code ${s.exit?.code}`}), ready ${s.readyMs} ms after start, ` +
        `${s.dropped} dropped, last back ${s.lastBackMs ?? '-'} ms after the signal`,
    )
    .join('; ');
  const jittered =
    figures.firstAttemptDelay.n > 0 &&
    figures.firstAttemptDelay.iqr >= BASE_MS / 4 &&
    figures.reconnectDelay.stddev >= JITTER_STDDEV / 2;
  const errors = Object.keys(figures.errors).length === 0 ? 'none' : JSON.stringify(figures.errors);
  return [
    {
      id: 'P8',
      what: `${name}: sessions resumed${suffix}`,
      measured: `${figures.resumed}/${figures.clients} resumed`,
      target: TARGET,
      met: figures.resumed === figures.clients && figures.notConnected === 0,
      detail:
        `${figures.droppedClients} clients dropped (${figures.drops} drops), ${figures.replaced} replaced, ` +
        `${figures.notConnected} not connected at the end; client errors: ${errors}; ` +
        `failed connections/attempts: ${JSON.stringify(figures.failures)}; ${steps}`,
    },
    {
      id: 'P8',
      what: `${name}: events lost / duplicated / gaps${suffix}`,
      measured: `${events.lost} lost, ${events.duplicated} dup, ${events.gaps} gaps`,
      target: TARGET,
      met: events.lost === 0 && events.duplicated === 0 && events.gaps === 0,
      detail:
        `${events.published} events acknowledged (POST /api/chat 200) during the phase, ${settings.ratePerSecond}/s; ` +
        `${events.clientsLosing} clients missed some; not acknowledged: ${JSON.stringify(events.unacknowledged)}, ` +
        `${events.unacknowledgedDelivered} of them delivered anyway; client errors: ${errors}`,
    },
    {
      id: 'P8',
      what: `${name}: reconnect delay, drop -> connected${suffix}`,
      measured: spread(figures.reconnectDelay),
      target: TARGET,
      met: jittered,
      detail:
        `stddev ${figures.reconnectDelay.stddev} ms (full jitter over [0, ${BASE_MS}) alone: ${Math.round(JITTER_STDDEV)}), ` +
        `IQR ${figures.reconnectDelay.iqr} ms; first-attempt backoff drawn: ${spread(figures.firstAttemptDelay)}, ` +
        `IQR ${figures.firstAttemptDelay.iqr} ms; attempts per drop: mean ${figures.attemptsPerDrop.mean}, ` +
        `max ${figures.attemptsPerDrop.max}; drops per delay bucket (ms:count): ${figures.histogram}; ` +
        `the clients' event loop delay: p99 ${figures.clientLoop.p99Ms} ms, max ${figures.clientLoop.maxMs} ms`,
    },
    {
      id: 'P8',
      what: `${name}: all clients connected again${suffix}`,
      measured:
        figures.allConnectedAfterMs === undefined
          ? 'not all'
          : `${(figures.allConnectedAfterMs / 1000).toFixed(1)} s after the first signal`,
      target: '-',
      detail:
        `sockets per node after the phase: ${JSON.stringify(figures.socketsAfter)}; nginx answered upgrades ` +
        `${JSON.stringify(figures.proxy.webSocket)} (101s once closed), requests ${JSON.stringify(figures.proxy.http)}; ${result.redis}`,
    },
  ];
}

/** Clients whose subscription never delivered in the warm-up, and why. */
function coldDetail(result: ScenarioResult): string {
  const { cold } = result.warmup;
  if (cold.length === 0) return '';
  const reasons = new Map<string, number>();
  for (const { errors } of cold) {
    const key = errors.at(-1) ?? 'no error';
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  return ` (${cold.length} never did: ${JSON.stringify(Object.fromEntries(reasons))})`;
}

async function run(): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  const results: ScenarioResult[] = [];
  for (const source of redisRows()) {
    const result = await runScenario(source, settings);
    results.push(result);
    const suffix = source.label === 'redis-server' ? '' : ` (${source.label})`;
    const steady = result.phases.find((p) => p.phase === 'steady');
    if (steady !== undefined) {
      rows.push({
        id: 'P8',
        what: `steady, no failure (control): events lost / dup / gaps${suffix}`,
        measured: `${steady.events.lost} lost, ${steady.events.duplicated} dup, ${steady.events.gaps} gaps`,
        target: '-',
        detail:
          `${result.connect.clients} clients connected and subscribed in ${result.connect.ms} ms through nginx, ` +
          `${result.connect.clients - result.warmup.cold.length} had an event within ${Math.round(result.warmup.ms / 1000)} s of warm-up ` +
          `(${result.warmup.events} events)${coldDetail(result)}, ` +
          `sockets per node ${JSON.stringify(result.connect.socketsPerNode)}; ${steady.events.published} events in ` +
          `${(settings.steadyMs + settings.afterMs) / 1000} s; stores ${result.stores.join(', ')}; whole run ${Math.round(result.elapsedMs / 1000)} s`,
      });
    }
    for (const figures of result.phases) {
      if (figures.phase !== 'steady') rows.push(...phaseRows(result, figures, suffix));
    }
  }
  writeResults('P8', {
    target:
      'all resumed, 0 events lost or duplicated, reconnects spread by jitter (3 nodes sharing Redis behind nginx; rolling restart and kill -9)',
    settings,
    reconnect: reconnectDefaults,
    rows: results,
  });
  return rows;
}

const target: BenchTarget = { ids: ['P8'], run };
export default target;
