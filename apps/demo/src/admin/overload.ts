import type { CapacityLimiter } from '@morgan/session-server';
import type { OverloadState } from './types.js';

/** Options of an `OverloadSimulator`. */
export interface OverloadOptions {
  /** Request slots left to real traffic while overload is on. @default 2 */
  freeSlots?: number;
  /** Extra time every chat reply takes while overload is on, in ms. @default 1500 */
  replyDelayMs?: number;
}

export const overloadDefaults = {
  freeSlots: 2,
  replyDelayMs: 1500,
} as const satisfies Required<OverloadOptions>;

/**
 * Simulates a node under heavy load, for the demo's dashboard button.
 *
 * While on, a phantom background load holds all but `freeSlots` of the
 * node's request slots (taken from the real `CapacityLimiter`, so the real
 * `sessionMiddleware` does the shedding) and chat replies take
 * `replyDelayMs` longer. A few tabs sending at once then get genuine 503
 * `SERVER_AT_CAPACITY` answers with `Retry-After`.
 *
 * @example
 * const overload = new OverloadSimulator(manager.capacity);
 * overload.set(true);
 * await overload.delay(); // in the chat handler
 */
export class OverloadSimulator {
  readonly #capacity: CapacityLimiter;
  #enabled = false;
  #held = 0;
  #freeSlots: number;
  #replyDelayMs: number;
  readonly #pending = new Map<ReturnType<typeof setTimeout>, () => void>();

  constructor(capacity: CapacityLimiter, options: OverloadOptions = {}) {
    this.#capacity = capacity;
    this.#freeSlots = options.freeSlots ?? overloadDefaults.freeSlots;
    this.#replyDelayMs = options.replyDelayMs ?? overloadDefaults.replyDelayMs;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Slots the simulated load holds now (not real requests). */
  get heldSlots(): number {
    return this.#held;
  }

  /** Turns the simulation on or off, optionally with new settings. */
  set(enabled: boolean, options: OverloadOptions = {}): OverloadState {
    if (options.freeSlots !== undefined)
      this.#freeSlots = Math.max(0, Math.floor(options.freeSlots));
    if (options.replyDelayMs !== undefined) this.#replyDelayMs = Math.max(0, options.replyDelayMs);
    this.#enabled = enabled;
    if (enabled) this.topUp();
    else this.#releaseAll();
    return this.state();
  }

  /**
   * Takes the slots the simulated load should hold that are free now. Real
   * requests keep theirs; call again (the sampler does, every second) to
   * take slots they give back.
   */
  topUp(): void {
    if (!this.#enabled) return;
    const target = Math.max(0, this.#capacity.limit - this.#freeSlots);
    while (this.#held < target && this.#capacity.tryAcquire()) this.#held += 1;
    while (this.#held > target) {
      this.#capacity.release();
      this.#held -= 1;
    }
  }

  /** Resolves after `replyDelayMs` while overload is on, at once otherwise. */
  delay(): Promise<void> {
    if (!this.#enabled || this.#replyDelayMs === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(timer);
        resolve();
      }, this.#replyDelayMs);
      timer.unref();
      this.#pending.set(timer, resolve);
    });
  }

  state(): OverloadState {
    return {
      enabled: this.#enabled,
      freeSlots: this.#freeSlots,
      replyDelayMs: this.#replyDelayMs,
      heldSlots: this.#held,
    };
  }

  /** Gives every held slot back and ends pending delays at once. */
  close(): void {
    this.#enabled = false;
    this.#releaseAll();
    for (const [timer, resolve] of this.#pending) {
      clearTimeout(timer);
      resolve();
    }
    this.#pending.clear();
  }

  #releaseAll(): void {
    while (this.#held > 0) {
      this.#capacity.release();
      this.#held -= 1;
    }
  }
}
