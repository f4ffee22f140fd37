// P8: 1,000 session clients (@morgan/session-client, in this process)
// reconnect after a server restart (server in a child process; see
// src/client/server.ts: the HTTP + WebSocket layer restarts on the same port
// while the SessionManager, its sessions and event buffers, stay up).
//
// Each client connects (session.create over HTTP, WebSocket with the session
// in connectionParams) and subscribes to session.events. Events are
// published to every session before the restart, during the outage, right
// after the port opens again and once everyone is back. Reported:
// - spread of the reconnect attempts: when each client's first attempt fired
//   after the 1001 close (full jitter over the first backoff window), when it
//   was connected again, and the busiest 100 ms of WebSocket upgrades the
//   server saw, against the even share;
// - how many clients kept their session (target: all);
// - how many events were lost, duplicated, or reported as gaps (target: 0).
// Clients use the SDK defaults (backoff base 1 s, cap 30 s, full jitter).
import {
  createSessionClient,
  isGapEvent,
  reconnectDefaults,
  type SessionClient,
} from '@morgan/session-client';
import type { AnyRouter } from '@trpc/server';
import { WebSocket } from 'ws';
import { startClientBenchServer } from '../client/child.js';
import type { BenchResult, BenchTarget } from '../target.js';

const CLIENTS = 1_000;
const CONNECT_BATCH = 100;
const DOWNTIME_MS = 1_000;
const SETTLE_TIMEOUT_MS = 60_000;
const BUCKET_MS = 100;

interface Probe {
  client: SessionClient<AnyRouter>;
  sessionId: string;
  seqs: Set<number>;
  duplicates: number;
  gaps: number;
  replaced: number;
  errors: number;
  /** Epoch ms when each reconnect attempt after the restart fires (scheduled time + delay). */
  attempts: number[];
  /** Backoff delay of the first attempt after the restart (the jitter), ms. */
  firstDelayMs: number | undefined;
  /** Epoch ms when its socket closed (1001) after the restart began. */
  closedAt: number | undefined;
  /** Epoch ms when it was connected again after the restart. */
  reconnectedAt: number | undefined;
  restarted: boolean;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => Math.round(percentile(sorted, p));
  return `p0 ${at(0)} / p25 ${at(25)} / p50 ${at(50)} / p75 ${at(75)} / p100 ${at(100)} ms`;
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

function probeFor(url: string): Probe {
  const client = createSessionClient<AnyRouter>({
    url,
    WebSocket,
    storage: 'memory',
    onlineEvents: false,
  });
  const probe: Probe = {
    client,
    sessionId: '',
    seqs: new Set(),
    duplicates: 0,
    gaps: 0,
    replaced: 0,
    errors: 0,
    attempts: [],
    firstDelayMs: undefined,
    closedAt: undefined,
    reconnectedAt: undefined,
    restarted: false,
  };
  client.on('session-replaced', () => {
    probe.replaced += 1;
  });
  client.on('error', () => {
    probe.errors += 1;
  });
  client.on('reconnect', ({ delayMs }) => {
    if (!probe.restarted) return;
    probe.firstDelayMs ??= delayMs;
    probe.attempts.push(Date.now() + delayMs);
  });
  client.on('state', (state, previous) => {
    if (state.status === 'reconnecting' && previous.status === 'connected' && probe.restarted) {
      probe.closedAt ??= Date.now();
    }
    if (state.status === 'connected' && probe.restarted && probe.reconnectedAt === undefined) {
      probe.reconnectedAt = Date.now();
    }
  });
  return probe;
}

async function run(): Promise<BenchResult[]> {
  await using server = await startClientBenchServer();
  const probes: Probe[] = [];
  try {
    // Connect and subscribe, a batch at a time.
    const connectStart = performance.now();
    for (let i = 0; i < CLIENTS; i += CONNECT_BATCH) {
      const batch = Array.from({ length: Math.min(CONNECT_BATCH, CLIENTS - i) }, () =>
        probeFor(server.url),
      );
      await Promise.all(
        batch.map(async (probe) => {
          probe.sessionId = (await probe.client.connect()).sessionId;
          probe.client.subscribeEvents((event) => {
            if (isGapEvent(event)) {
              probe.gaps += 1;
              return;
            }
            const { seq } = event.data as { seq: number };
            if (probe.seqs.has(seq)) probe.duplicates += 1;
            probe.seqs.add(seq);
          });
        }),
      );
      probes.push(...batch);
    }
    const connectMs = performance.now() - connectStart;

    // Warm-up event: every subscription is live once each client has it.
    await server.publish(0, 1);
    if (!(await until(() => probes.every((probe) => probe.seqs.has(1)), 30_000))) {
      throw new Error('subscriptions did not start');
    }
    await server.publish(1, 2);

    for (const probe of probes) probe.restarted = true;
    const restarting = server.restart(DOWNTIME_MS);
    await new Promise((resolve) => setTimeout(resolve, DOWNTIME_MS / 3));
    const during = await server.publish(2, 2);
    const times = await restarting;
    await server.publish(3, 2);
    const allBack = await until(
      () =>
        probes.every(
          (probe) => probe.reconnectedAt !== undefined && probe.client.state === 'connected',
        ),
      SETTLE_TIMEOUT_MS,
    );
    const final = await server.publish(4, 2);
    const lastSeq = final.lastSeq;
    await until(() => probes.every((probe) => probe.seqs.size >= lastSeq), 10_000);
    const stats = await server.stats();

    // Figures.
    const firstAttempts = probes
      .map((probe) => probe.attempts[0])
      .filter((at): at is number => at !== undefined)
      .map((at) => at - times.stoppedAt);
    const firstDelays = probes
      .map((probe) => probe.firstDelayMs)
      .filter((delay): delay is number => delay !== undefined);
    const closes = probes
      .map((probe) => probe.closedAt)
      .filter((at): at is number => at !== undefined)
      .map((at) => at - times.stoppedAt);
    const reconnected = probes
      .map((probe) => probe.reconnectedAt)
      .filter((at): at is number => at !== undefined)
      .map((at) => at - times.listeningAt);
    const attemptsPerClient = probes.map((probe) => probe.attempts.length);
    const resumed = probes.filter(
      (probe) =>
        probe.replaced === 0 &&
        probe.client.sessionId === probe.sessionId &&
        probe.client.state === 'connected',
    ).length;
    let lost = 0;
    for (const probe of probes) {
      for (let seq = 1; seq <= lastSeq; seq += 1) if (!probe.seqs.has(seq)) lost += 1;
    }
    const duplicates = probes.reduce((sum, probe) => sum + probe.duplicates, 0);
    const gaps = probes.reduce((sum, probe) => sum + probe.gaps, 0);
    const errors = probes.reduce((sum, probe) => sum + probe.errors, 0);
    const buckets = new Map<number, number>();
    for (const at of stats.upgrades) {
      const bucket = Math.floor((at - times.listeningAt) / BUCKET_MS);
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
    }
    const busiest = Math.max(0, ...buckets.values());
    const upgradeSpanMs =
      stats.upgrades.length === 0 ? 0 : Math.max(...stats.upgrades) - Math.min(...stats.upgrades);
    const sortedFirst = [...firstAttempts].sort((a, b) => a - b);
    const iqr = percentile(sortedFirst, 75) - percentile(sortedFirst, 25);
    const sortedDelays = [...firstDelays].sort((a, b) => a - b);
    const delayIqr = percentile(sortedDelays, 75) - percentile(sortedDelays, 25);
    // Full jitter over [0, base) gives an interquartile range of base / 2;
    // without jitter every delay would be the same (IQR 0).
    const jittered =
      firstDelays.length === CLIENTS &&
      delayIqr >= reconnectDefaults.baseDelayMs / 4 &&
      (sortedDelays.at(-1) ?? Number.POSITIVE_INFINITY) < reconnectDefaults.baseDelayMs;
    const histogram = [...buckets.entries()]
      .sort(([a], [b]) => a - b)
      .slice(0, 40)
      .map(([bucket, count]) => `${bucket * BUCKET_MS}:${count}`)
      .join(' ');
    const eventsPerClient = lastSeq;

    return [
      {
        id: 'P8',
        what: `${CLIENTS} clients reconnecting after a restart: sessions resumed`,
        measured: `${resumed}/${CLIENTS} resumed`,
        target: 'all resumed',
        met: resumed === CLIENTS && allBack,
        detail:
          `server down ${times.listeningAt - times.stoppedAt} ms (1001, port closed, same manager); ` +
          `${probes.reduce((sum, probe) => sum + probe.replaced, 0)} replaced; all connected again: ${allBack}; ` +
          `initial connect+subscribe of ${CLIENTS}: ${Math.round(connectMs)} ms`,
      },
      {
        id: 'P8',
        what: 'events lost across the restart',
        measured: `${lost} lost, ${duplicates} dup, ${gaps} gaps`,
        target: 'none lost',
        met: lost === 0 && gaps === 0 && duplicates === 0,
        detail:
          `${eventsPerClient} events per client (${during.lastSeq - during.firstSeq + 1} published during the outage, ` +
          `2 as the port reopened, 2 after), ${CLIENTS * eventsPerClient} in all; ${errors} client error events`,
      },
      {
        id: 'P8',
        what: 'spread of first reconnect attempts after the 1001 close',
        measured: `IQR ${Math.round(iqr)} ms`,
        target: 'spread by jitter',
        met: jittered,
        detail:
          `sockets closed at ${spread(closes)} after the restart began; first attempts fired at ${spread(firstAttempts)}; ` +
          `their backoff delays (full jitter over [0, ${reconnectDefaults.baseDelayMs}) ms): ${spread(firstDelays)}; ` +
          `attempts per client: mean ${(attemptsPerClient.reduce((a, b) => a + b, 0) / CLIENTS).toFixed(2)}, max ${Math.max(...attemptsPerClient)}`,
      },
      {
        id: 'P8',
        what: 'reconnected after the port reopened',
        measured: spread(reconnected).replace(/ ms$/, ''),
        target: '-',
        detail:
          `${stats.upgrades.length} WebSocket upgrades over ${upgradeSpanMs} ms; busiest ${BUCKET_MS} ms: ${busiest} ` +
          `(${((busiest / CLIENTS) * 100).toFixed(1)}% of clients); per ${BUCKET_MS} ms from reopening: ${histogram}`,
      },
    ];
  } finally {
    await Promise.all(probes.map((probe) => probe.client.close()));
  }
}

const target: BenchTarget = { ids: ['P8'], run };
export default target;
