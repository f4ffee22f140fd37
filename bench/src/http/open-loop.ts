// An open-loop load generator: requests start at a steady rate whatever the
// server answers, the way independent clients arrive. autocannon's
// `overallRate` releases each second's quota in a burst at the start of the
// second, which measures burst queueing rather than a steady 10x overload.
import { Agent, request } from 'node:http';
import type { LoadResult } from './load.js';

/** Options of `openLoop`. */
export interface OpenLoopOptions {
  url: string;
  headers?: Record<string, string>;
  /** Requests started per second. */
  ratePerSecond: number;
  durationSeconds: number;
  /** A request without an answer after this long counts as a timeout, in ms. */
  timeoutMs?: number;
}

const TICK_MS = 2;

/** Starts `ratePerSecond` GET requests per second for `durationSeconds`, then waits for every answer. */
export async function openLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 2000 });
  const { hostname, port, pathname, search } = new URL(options.url);
  const statuses = new Map<number, number>();
  const latencies = new Map<number, number[]>();
  const timeoutMs = options.timeoutMs ?? 10_000;
  let errors = 0;
  let timeouts = 0;
  let started = 0;
  let settled = 0;
  let onIdle: (() => void) | undefined;

  const settle = () => {
    settled += 1;
    if (settled === started) onIdle?.();
  };
  const fire = () => {
    started += 1;
    const begin = performance.now();
    const req = request(
      { agent, hostname, port, path: pathname + search, headers: options.headers ?? {} },
      (res) => {
        res.resume();
        res.once('end', () => {
          const status = res.statusCode ?? 0;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          let list = latencies.get(status);
          if (list === undefined) {
            list = [];
            latencies.set(status, list);
          }
          list.push(performance.now() - begin);
          settle();
        });
      },
    );
    req.setTimeout(timeoutMs, () => {
      timeouts += 1;
      req.destroy(new Error('timeout'));
    });
    req.once('error', (error) => {
      if (error.message !== 'timeout') errors += 1;
      settle();
    });
    req.end();
  };

  const start = performance.now();
  const total = Math.round(options.ratePerSecond * options.durationSeconds);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(
        total,
        Math.floor(((performance.now() - start) * options.ratePerSecond) / 1000),
      );
      while (started < due) fire();
      if (started >= total) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const elapsedSeconds = (performance.now() - start) / 1000;
  if (settled < started) await new Promise<void>((resolve) => (onIdle = resolve));
  agent.destroy();
  for (const list of latencies.values()) list.sort((a, b) => a - b);
  let answered = 0;
  for (const count of statuses.values()) answered += count;
  return {
    requestsPerSecond: answered / elapsedSeconds,
    statuses,
    latencies,
    errors,
    timeouts,
    total: answered,
  };
}
