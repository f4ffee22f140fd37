// P8's figures for one phase, from the probes' records in the phase's time
// window and the publisher's acknowledged seqs: sessions resumed, events
// lost / duplicated / gaps, and how the reconnects spread.
import type { AccessLogEntry, ProcessExit } from '@morgan/test-support';
import type { Probe } from './probes.js';
import type { PublishBatch, Published } from './publisher.js';
import { histogramOf, type Spread, spreadOf } from './stats.js';

/** One node's turn in a phase: signal, exit, restart. */
export interface StepRecord {
  node: string;
  signal: NodeJS.Signals;
  /** Epoch ms of the signal. */
  at: number;
  /** Signal → process gone, ms. */
  exitMs: number;
  exit: ProcessExit | undefined;
  /** Start → `/ready` answered 200, ms. */
  readyMs: number;
}

export interface PhaseFigures {
  phase: string;
  clients: number;
  steps: Array<StepRecord & { dropped: number; lastBackMs: number | undefined }>;
  /** Clients that lost their connection at least once in the phase. */
  droppedClients: number;
  drops: number;
  /** Same session id after the phase, never replaced, connected. */
  resumed: number;
  replaced: number;
  /** Clients not connected when the phase ended. */
  notConnected: number;
  /** First signal → the last client connected again, ms (undefined when some never came back). */
  allConnectedAfterMs: number | undefined;
  /** Drop → connected again, ms. */
  reconnectDelay: Spread;
  /** Backoff delay the SDK drew for the first attempt after each drop (the jitter), ms. */
  firstAttemptDelay: Spread;
  attemptsPerDrop: { mean: number; max: number };
  /** Drop → connected again, counts per bucket: `<from ms>:<count>`. */
  histogram: string;
  events: {
    published: number;
    lost: number;
    /** Clients that missed at least one. */
    clientsLosing: number;
    duplicated: number;
    gaps: number;
    /** Not acknowledged (the request failed), by outcome. */
    unacknowledged: Record<string, number>;
    /** Unacknowledged ones that reached their client anyway (published before the node died). */
    unacknowledgedDelivered: number;
  };
  errors: Record<string, number>;
  /**
   * What nginx answered in the phase, by status: upgrades (101s only once
   * their socket closed) and plain requests.
   */
  proxy: { webSocket: Record<string, number>; http: Record<string, number> };
  /** Why failed connections and attempts failed (`code` or `code/closeCode`), counts. */
  failures: Record<string, number>;
  /** The first lost events, with what their client went through, times relative to the phase's start. */
  lostSamples: LostSample[];
  /** Connections per node once the phase settled. */
  socketsAfter: Record<string, number>;
}

export interface LostSample {
  seq: number;
  client: number;
  sentAt: number;
  ackedAt: number;
  /** Seqs of this client's session acknowledged before and after it, and whether they arrived. */
  neighbours: string;
  drops: number[];
  backs: number[];
  errors: string[];
}

const LOST_SAMPLES = 10;

interface PhaseInput {
  phase: string;
  probes: readonly Probe[];
  steps: readonly StepRecord[];
  start: number;
  end: number;
  batch: PublishBatch;
  socketsAfter: Record<string, number>;
  accessLog: readonly AccessLogEntry[];
}

export function phaseFigures(input: PhaseInput): PhaseFigures {
  const { probes, start, end, batch } = input;
  const within = (at: number) => at >= start && at <= end;
  const delays: number[] = [];
  const firstDelays: number[] = [];
  const attemptsPerDrop: number[] = [];
  const dropTimes: number[] = [];
  let lastBack = start;
  let everyoneBack = true;
  for (const probe of probes) {
    probe.drops.forEach((drop, i) => {
      if (!within(drop)) return;
      dropTimes.push(drop);
      const back = probe.backs[i];
      if (back === undefined) {
        everyoneBack = false;
        return;
      }
      delays.push(back - drop);
      lastBack = Math.max(lastBack, back);
      const attempts = probe.attempts.filter((a) => a.at >= drop && a.at <= back);
      attemptsPerDrop.push(attempts.length);
      const first = attempts.find((a) => a.attempt === 0);
      if (first !== undefined) firstDelays.push(first.delayMs);
    });
  }
  const steps = input.steps.map((step, i) => {
    const next = input.steps[i + 1]?.at ?? end;
    let dropped = 0;
    let last: number | undefined;
    for (const probe of probes) {
      probe.drops.forEach((drop, j) => {
        if (drop < step.at || drop >= next) return;
        dropped += 1;
        const back = probe.backs[j];
        if (back !== undefined) last = Math.max(last ?? 0, back - step.at);
      });
    }
    return { ...step, dropped, lastBackMs: last };
  });

  let lost = 0;
  let duplicated = 0;
  const lostSamples: LostSample[] = [];
  const losing = new Set<number>();
  for (const published of batch.acked) {
    const { seq, target } = published;
    const probe = probes[target];
    const times = probe?.received.get(seq) ?? 0;
    if (times > 1) duplicated += times - 1;
    if (times > 0 || probe === undefined) continue;
    lost += 1;
    losing.add(target);
    if (lostSamples.length < LOST_SAMPLES) lostSamples.push(lostSample(published, probe, input));
  }
  const unacknowledged: Record<string, number> = {};
  let unacknowledgedDelivered = 0;
  for (const [outcome, seqs] of batch.failed) {
    unacknowledged[outcome] = seqs.length;
    const wanted = new Set(seqs);
    for (const probe of probes) {
      for (const [seq, times] of probe.received) {
        if (!wanted.has(seq)) continue;
        unacknowledgedDelivered += 1;
        duplicated += times - 1;
      }
    }
  }
  const errors: Record<string, number> = {};
  const failures: Record<string, number> = {};
  for (const probe of probes) {
    for (const { at, code } of probe.errors) if (within(at)) errors[code] = (errors[code] ?? 0) + 1;
    for (const { at, code, closeCode } of probe.failures) {
      if (!within(at)) continue;
      const key = closeCode === undefined ? code : `${code}/${closeCode}`;
      failures[key] = (failures[key] ?? 0) + 1;
    }
  }
  const notConnected = probes.filter((probe) => !probe.connected).length;
  return {
    phase: input.phase,
    clients: probes.length,
    steps,
    droppedClients: probes.filter((probe) => probe.drops.some(within)).length,
    drops: dropTimes.length,
    resumed: probes.filter((probe) => probe.resumed(start)).length,
    replaced: probes.filter((probe) => probe.replaced.some(within)).length,
    notConnected,
    allConnectedAfterMs:
      everyoneBack && notConnected === 0 && input.steps[0] !== undefined
        ? lastBack - input.steps[0].at
        : undefined,
    reconnectDelay: spreadOf(delays),
    firstAttemptDelay: spreadOf(firstDelays),
    attemptsPerDrop: {
      mean: Number(
        (attemptsPerDrop.reduce((a, b) => a + b, 0) / Math.max(1, attemptsPerDrop.length)).toFixed(
          2,
        ),
      ),
      max: Math.max(0, ...attemptsPerDrop),
    },
    histogram: histogramOf(delays),
    events: {
      published: batch.acked.length,
      lost,
      clientsLosing: losing.size,
      duplicated,
      gaps: probes.reduce((sum, probe) => sum + probe.gaps.filter(within).length, 0),
      unacknowledged,
      unacknowledgedDelivered,
    },
    errors,
    proxy: proxyStatuses(input.accessLog.filter((entry) => within(entry.at))),
    failures,
    lostSamples,
    socketsAfter: input.socketsAfter,
  };
}

function lostSample(published: Published, probe: Probe, input: PhaseInput): LostSample {
  const rel = (at: number) => at - input.start;
  const own = input.batch.acked.filter((p) => p.target === published.target);
  const index = own.findIndex((p) => p.seq === published.seq);
  const neighbours = own
    .slice(Math.max(0, index - 2), index + 3)
    .map((p) => `${p.seq}${probe.received.has(p.seq) ? '' : '(lost)'}@${rel(p.ackedAt)}`)
    .join(' ');
  return {
    seq: published.seq,
    client: published.target,
    sentAt: rel(published.sentAt),
    ackedAt: rel(published.ackedAt),
    neighbours,
    drops: probe.drops.map(rel),
    backs: probe.backs.map(rel),
    errors: probe.errors.map((e) => `${rel(e.at)} ${e.code}: ${e.message}`),
  };
}

function proxyStatuses(entries: readonly AccessLogEntry[]): PhaseFigures['proxy'] {
  const proxy: PhaseFigures['proxy'] = { webSocket: {}, http: {} };
  for (const entry of entries) {
    const counts = entry.webSocket ? proxy.webSocket : proxy.http;
    // nginx names the upstream group when it had no server to try.
    const key = entry.upstreams[0]?.startsWith('morgan_')
      ? `${entry.status} no live upstream`
      : String(entry.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return proxy;
}
