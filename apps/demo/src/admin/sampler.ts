import type { SessionManager } from '@morgan/session-server';
import type { LoadSample } from './types.js';

/** Options of a `LoadSampler`. */
export interface LoadSamplerOptions {
  /** Time between samples, in ms. @default 1000 */
  intervalMs?: number;
  /** How much history to keep, in ms. @default 300_000 (5 min) */
  windowMs?: number;
  /** Capacity slots held by something other than requests (the overload simulation). @default () => 0 */
  phantomSlots?: () => number;
  /** Runs before each sample (the overload simulation tops up its slots here). */
  onTick?: () => void;
}

export const loadSamplerDefaults = {
  intervalMs: 1000,
  windowMs: 5 * 60 * 1000,
} as const;

/**
 * Samples active sessions, requests in flight, shed requests and the
 * capacity limit of this node once per interval and keeps a bounded window of them for the chart.
 *
 * @example
 * const sampler = new LoadSampler(manager).start();
 * sampler.samples(); // oldest first
 * sampler.stop();
 */
export class LoadSampler {
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly #manager: SessionManager;
  readonly #phantomSlots: () => number;
  readonly #onTick: (() => void) | undefined;
  readonly #samples: LoadSample[] = [];
  #lastShed: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy = false;

  constructor(manager: SessionManager, options: LoadSamplerOptions = {}) {
    this.#manager = manager;
    this.intervalMs = options.intervalMs ?? loadSamplerDefaults.intervalMs;
    this.windowMs = options.windowMs ?? loadSamplerDefaults.windowMs;
    this.#phantomSlots = options.phantomSlots ?? (() => 0);
    this.#onTick = options.onTick;
    this.#lastShed = manager.capacity.shedCount;
  }

  /** Starts sampling; idempotent. */
  start(): this {
    if (this.#timer !== undefined) return this;
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref();
    return this;
  }

  /** Stops sampling and releases the timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Kept samples, oldest first (a copy). */
  samples(): LoadSample[] {
    return this.#samples.slice();
  }

  /** Takes one sample now. Skipped (undefined) while the previous one is still running. */
  async sample(): Promise<LoadSample | undefined> {
    if (this.#busy) return undefined;
    this.#busy = true;
    try {
      this.#onTick?.();
      const capacity = this.#manager.capacity;
      const activeSessions = await this.#manager.getActiveSessionCount();
      const shedCount = capacity.shedCount;
      const sample: LoadSample = {
        at: Date.now(),
        activeSessions,
        inFlightRequests: Math.max(0, capacity.inFlight - this.#phantomSlots()),
        shed: shedCount - this.#lastShed,
        capacityLimit: capacity.limit,
      };
      this.#lastShed = shedCount;
      this.#samples.push(sample);
      const oldest = sample.at - this.windowMs;
      while (this.#samples.length > 0 && this.#samples[0]!.at < oldest) this.#samples.shift();
      return sample;
    } catch {
      // The store may be unreachable for a moment (Redis restarting); the
      // chart simply has no point for this second.
      return undefined;
    } finally {
      this.#busy = false;
    }
  }
}
