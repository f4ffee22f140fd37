/** Options of a `CapacityLimiter`. */
export interface CapacityLimiterOptions {
  /** Requests allowed in flight at once on this node. @default 100 */
  maxConcurrent: number;
  /**
   * Requests that may wait for a free slot instead of being shed at once.
   * @default 0
   */
  maxQueue?: number;
  /** Longest wait for a slot before the request is shed, in milliseconds. @default 0 */
  maxQueueWaitMs?: number;
}

export const capacityLimiterDefaults = {
  maxConcurrent: 100,
  maxQueue: 0,
  maxQueueWaitMs: 0,
} as const satisfies Required<CapacityLimiterOptions>;

interface Waiter {
  grant: (admitted: boolean) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Counts requests in flight on this node and admits at most `maxConcurrent`
 * at once. A request that finds no slot either waits in a short bounded queue
 * (when `maxQueue > 0`) or is shed at once. Synchronous in the common case so
 * that shedding costs no I/O and no allocation.
 *
 * @example
 * const limiter = new CapacityLimiter({ maxConcurrent: 100 });
 * if (!limiter.tryAcquire()) return reply503();
 * try { await handle(); } finally { limiter.release(); }
 */
export class CapacityLimiter {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly maxQueueWaitMs: number;
  #inFlight = 0;
  #shed = 0;
  readonly #queue: Waiter[] = [];

  constructor(options: Partial<CapacityLimiterOptions> = {}) {
    this.maxConcurrent = options.maxConcurrent ?? capacityLimiterDefaults.maxConcurrent;
    this.maxQueue = options.maxQueue ?? capacityLimiterDefaults.maxQueue;
    this.maxQueueWaitMs = options.maxQueueWaitMs ?? capacityLimiterDefaults.maxQueueWaitMs;
  }

  /** Requests holding a slot now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Requests refused since start. */
  get shedCount(): number {
    return this.#shed;
  }

  /** Takes a slot when one is free. Never waits. */
  tryAcquire(): boolean {
    if (this.#inFlight < this.maxConcurrent) {
      this.#inFlight += 1;
      return true;
    }
    return false;
  }

  /**
   * Takes a slot, waiting in the bounded queue when that is enabled.
   * Resolves `true` once admitted, `false` when shed (and counts the shed).
   */
  acquire(): boolean | Promise<boolean> {
    if (this.tryAcquire()) return true;
    if (this.#queue.length >= this.maxQueue || this.maxQueueWaitMs <= 0) {
      this.#shed += 1;
      return false;
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          const index = this.#queue.indexOf(waiter);
          if (index !== -1) this.#queue.splice(index, 1);
          this.#shed += 1;
          resolve(false);
        }, this.maxQueueWaitMs),
      };
      waiter.timer.unref?.();
      this.#queue.push(waiter);
    });
  }

  /** Counts a request refused without asking for a slot. */
  recordShed(): void {
    this.#shed += 1;
  }

  /** Gives a slot back; hands it straight to the oldest waiter, if any. */
  release(): void {
    const next = this.#queue.shift();
    if (next !== undefined) {
      clearTimeout(next.timer);
      next.grant(true);
      return;
    }
    if (this.#inFlight > 0) this.#inFlight -= 1;
  }

  /** Suggested `Retry-After` in whole seconds. */
  retryAfterSeconds(): number {
    return 1;
  }
}
