// P8's scenario on one Redis row: three demo nodes behind nginx, CLIENTS SDK
// clients subscribed to their sessions' events while the publisher sends
// chat messages to the sessions all along; then
//   steady    a few seconds without failure (the control),
//   rolling   SIGTERM each node in turn, wait for its exit, start it again,
//             wait until /ready, next node,
//   kill      SIGKILL one node, then start it again;
// after each phase: every client connected again (or a deadline), a few more
// seconds of events, the publisher paused, and every acknowledged event
// delivered (or a deadline) before the figures are taken.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { NodeProcess } from '@morgan/test-support';
import { startDemoNodes } from './demo-nodes.js';
import { type PhaseFigures, phaseFigures, type StepRecord } from './figures.js';
import { Probe } from './probes.js';
import { Publisher } from './publisher.js';
import type { RedisRowSource } from './redis-rows.js';

export interface ScenarioSettings {
  clients: number;
  nodes: number;
  /** Chat events per second over all sessions. */
  ratePerSecond: number;
  /** Clients connecting at once during the set-up. */
  connectBatch: number;
  steadyMs: number;
  /** Events published after everyone is back, before a phase is measured. */
  afterMs: number;
  /** Longest wait for every client to be connected again (or to have had its first event). */
  settleTimeoutMs: number;
  /** Longest wait for every client's first event (its subscription is live). */
  warmupTimeoutMs: number;
  /** Longest wait, once publishing paused, for every acknowledged event to arrive. */
  deliveryTimeoutMs: number;
}

export interface ScenarioResult {
  redis: string;
  stores: string[];
  connect: { clients: number; ms: number; socketsPerNode: Record<string, number> };
  /** Events published until every client had one (or the deadline), how long that took, who had none. */
  warmup: {
    events: number;
    ms: number;
    cold: Array<{ client: number; state: string; errors: string[] }>;
  };
  phases: Array<PhaseFigures & { clientLoop: { p99Ms: number; maxMs: number } }>;
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

export async function runScenario(
  source: RedisRowSource,
  settings: ScenarioSettings,
): Promise<ScenarioResult> {
  const began = Date.now();
  const redis = await source.open();
  const probes: Probe[] = [];
  let publisher: Publisher | undefined;
  const demo = await startDemoNodes(settings.nodes, redis.env).catch(async (error: unknown) => {
    await redis.release();
    throw error;
  });
  try {
    const stores = await Promise.all(
      demo.nodes.map(async (node) => (await node.json<{ store: string }>('/health')).store),
    );
    if (stores.some((store) => store === 'memory')) {
      throw new Error(
        `the demo nodes did not use ${redis.label} (stores: ${stores.join(', ')}; env ${Object.keys(redis.env).join(', ')})`,
      );
    }

    const connectStart = Date.now();
    for (let i = 0; i < settings.clients; i += settings.connectBatch) {
      const batch = Array.from(
        { length: Math.min(settings.connectBatch, settings.clients - i) },
        (_, j) => new Probe(i + j, demo.nginx.url),
      );
      probes.push(...batch); // closed in `finally`, connected or not
      await Promise.all(batch.map((probe) => probe.connect()));
    }
    const connect = {
      clients: probes.length,
      ms: Date.now() - connectStart,
      socketsPerNode: demo.sockets(),
    };

    const active = new Publisher({
      url: demo.nginx.url,
      clients: probes.length,
      sessionOf: (index) => probes[index]?.client.sessionId,
      ratePerSecond: settings.ratePerSecond,
      maxInFlight: 32,
    });
    publisher = active;

    // The clients' own event loop: a busy one would delay what they measure.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    const measure = async (phase: string, start: number, steps: StepRecord[]) => {
      const back = await until(
        () => probes.every((probe) => probe.connected),
        settings.settleTimeoutMs,
      );
      if (back) await sleep(settings.afterMs);
      await active.pause();
      const batch = active.take();
      await until(
        () => batch.acked.every(({ seq, target }) => probes[target]?.received.has(seq)),
        settings.deliveryTimeoutMs,
      );
      const end = Date.now();
      const clientLoop = {
        p99Ms: Math.round(loop.percentile(99) / 1e6),
        maxMs: Math.round(loop.max / 1e6),
      };
      loop.reset();
      const figures = phaseFigures({
        phase,
        probes,
        steps,
        start,
        end,
        batch,
        socketsAfter: demo.sockets(),
        accessLog: demo.nginx.accessLog(),
      });
      active.start();
      return { ...figures, clientLoop };
    };

    // Warm-up: every subscription is live once its client has had an event
    // (one published before the server set the stream up is not replayed:
    // the client had no last id to resume from). Not measured.
    const warmStart = Date.now();
    active.start();
    await until(() => probes.every((probe) => probe.received.size > 0), settings.warmupTimeoutMs);
    await active.pause();
    const warmup = active.take();
    const warmMs = Date.now() - warmStart;
    // Clients still without an event: their subscription never started (kept
    // in: what they miss later counts as lost, which it is).
    const cold = probes
      .filter((probe) => probe.received.size === 0)
      .map((probe) => ({
        client: probe.index,
        state: probe.client.state,
        errors: probe.errors.map((e) => `${e.code}: ${e.message}`),
      }));

    const phases: ScenarioResult['phases'] = [];
    loop.enable();
    active.start();
    let start = Date.now();
    await sleep(settings.steadyMs);
    phases.push(await measure('steady', start, []));

    start = Date.now();
    const rolling: StepRecord[] = [];
    for (const node of demo.nodes) rolling.push(await restart(node, 'SIGTERM'));
    phases.push(await measure('rolling', start, rolling));

    start = Date.now();
    const victim = demo.nodes[1] ?? demo.nodes[0];
    if (victim === undefined) throw new Error('no node to kill');
    phases.push(await measure('kill', start, [await restart(victim, 'SIGKILL')]));
    await active.pause();
    loop.disable();

    return {
      redis: redis.label,
      stores,
      connect,
      warmup: { events: warmup.acked.length, ms: warmMs, cold },
      phases,
      elapsedMs: Date.now() - began,
    };
  } finally {
    await publisher?.pause();
    await Promise.all(probes.map((probe) => probe.client.close()));
    await demo.stop();
    await redis.release();
  }
}

/** Signals one node, waits for its exit, starts it again until `/ready`. */
async function restart(node: NodeProcess, signal: NodeJS.Signals): Promise<StepRecord> {
  const at = Date.now();
  await node.stop(signal);
  const exitMs = Date.now() - at;
  const exit = node.exit;
  const startAt = Date.now();
  await node.start();
  return { node: node.name, signal, at, exitMs, exit, readyMs: Date.now() - startAt };
}
