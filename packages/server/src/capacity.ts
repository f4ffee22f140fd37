import {
  GradientLimit,
  type GradientLimitOptions,
  gradientLimitDefaults,
} from './capacity/gradient-limit.js';
import type { RequestClass } from './capacity/request-class.js';
import { ConfigError } from './errors.js';

/**
 * The `capacity` option of a `SessionManager`: how the node decides how many
 * requests it admits at once. The adaptive limit's own options are those of
 * `GradientLimit`.
 */
export interface CapacityOptions extends GradientLimitOptions {
  /**
   * `'static'`: at most `maxConcurrentRequests` in flight. `'adaptive'`: a
   * limit that follows measured latency between `minLimit` and `maxLimit`
   * (`maxConcurrentRequests` is then not used). @default 'static'
   */
  mode?: 'static' | 'adaptive';
  /**
   * Slots past the limit that only session control (`session.*` procedures)
   * may take, as a share of the limit, rounded down: at capacity app traffic
   * is shed while session control is still admitted. @default 0.1
   */
  controlHeadroom?: number;
}

export const capacityDefaults = {
  mode: 'static',
  controlHeadroom: 0.1,
  ...gradientLimitDefaults,
} as const satisfies Required<CapacityOptions>;

/** Options of a `CapacityLimiter`. */
export interface CapacityLimiterOptions {
  /** Requests allowed in flight at once on this node (the static limit). @default 100 */
  maxConcurrent: number;
  /**
   * Requests that may wait for a free slot instead of being shed at once.
   * @default 0
   */
  maxQueue?: number;
  /** Longest wait for a slot before the request is shed, in milliseconds. @default 0 */
  maxQueueWaitMs?: number;
  /**
   * Slots past the limit that only `control` requests (session control) may
   * take, as a share of the limit, rounded down: at capacity app traffic is
   * shed while session control is still admitted. @default 0.1
   */
  controlHeadroom?: number;
  /**
   * Steers the limit by latency instead of `maxConcurrent` (adaptive
   * capacity); completed requests released with their start time feed it.
   */
  adaptive?: GradientLimit | undefined;
  /** Monotonic clock in ms for request latencies. @default performance.now */
  now?: () => number;
}

export const capacityLimiterDefaults = {
  maxConcurrent: 100,
  maxQueue: 0,
  maxQueueWaitMs: 0,
  controlHeadroom: capacityDefaults.controlHeadroom,
} as const satisfies Required<Omit<CapacityLimiterOptions, 'adaptive' | 'now'>>;

/**
 * The limiter a `SessionManager` builds: `base` (the static limit and the
 * queue) with the `capacity` option applied.
 *
 * @throws ConfigError for an option out of range.
 * @example
 * createCapacityLimiter({ maxConcurrent: 100 }, { mode: 'adaptive', minLimit: 10, maxLimit: 400 });
 */
export function createCapacityLimiter(
  base: CapacityLimiterOptions,
  capacity: CapacityOptions = {},
): CapacityLimiter {
  const { mode = capacityDefaults.mode, controlHeadroom = capacityDefaults.controlHeadroom } =
    capacity;
  if (mode !== 'static' && mode !== 'adaptive') {
    throw new ConfigError('capacity.mode', mode, "'static' or 'adaptive'");
  }
  if (!(controlHeadroom >= 0 && controlHeadroom <= 1)) {
    throw new ConfigError('capacity.controlHeadroom', controlHeadroom, 'a share from 0 to 1');
  }
  const { mode: _mode, controlHeadroom: _headroom, ...gradient } = capacity;
  return new CapacityLimiter({
    ...base,
    controlHeadroom,
    adaptive: mode === 'adaptive' ? new GradientLimit(gradient) : undefined,
  });
}

interface Waiter {
  grant: (admitted: boolean) => void;
  timer: ReturnType<typeof setTimeout>;
}

const monotonic = () => performance.now();

/**
 * Counts requests in flight on this node and admits at most `limit` at once:
 * `maxConcurrent`, or the live limit of an adaptive `GradientLimit`.
 * `control` requests (session control) may also take a small headroom past
 * the limit, so they are admitted before app traffic at the edge of
 * capacity. A request that finds no slot either waits in a short bounded
 * queue (when `maxQueue > 0`; control waiters first) or is shed at once.
 * Synchronous in the common case so that shedding costs no I/O and no
 * allocation.
 *
 * A request released with its start time (`release(startedAt)`) is a latency
 * sample for the adaptive limit; one released without it (cancelled, or
 * turned into a stream) is not, and a shed request never is.
 *
 * @example
 * const limiter = new CapacityLimiter({ maxConcurrent: 100 });
 * if (!limiter.tryAcquire('app')) return reply503();
 * const startedAt = limiter.now();
 * try { await handle(); } finally { limiter.release(startedAt); }
 */
export class CapacityLimiter {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly maxQueueWaitMs: number;
  readonly controlHeadroom: number;
  /** The adaptive limit, when there is one. */
  readonly adaptive: GradientLimit | undefined;
  /** The clock of `release(startedAt)`, in ms. */
  readonly now: () => number;
  #inFlight = 0;
  #shed = 0;
  readonly #queues: Record<RequestClass, Waiter[]> = { control: [], app: [] };

  constructor(options: Partial<CapacityLimiterOptions> = {}) {
    this.maxConcurrent = options.maxConcurrent ?? capacityLimiterDefaults.maxConcurrent;
    this.maxQueue = options.maxQueue ?? capacityLimiterDefaults.maxQueue;
    this.maxQueueWaitMs = options.maxQueueWaitMs ?? capacityLimiterDefaults.maxQueueWaitMs;
    this.controlHeadroom = options.controlHeadroom ?? capacityLimiterDefaults.controlHeadroom;
    this.adaptive = options.adaptive;
    this.now = options.now ?? monotonic;
  }

  /** `static` (`maxConcurrent`) or `adaptive` (steered by latency). */
  get mode(): 'static' | 'adaptive' {
    return this.adaptive === undefined ? 'static' : 'adaptive';
  }

  /** Requests app traffic may have in flight now: `maxConcurrent`, or the adaptive limit. */
  get limit(): number {
    return this.adaptive === undefined ? this.maxConcurrent : this.adaptive.limit;
  }

  /** Requests holding a slot now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.#queues.control.length + this.#queues.app.length;
  }

  /** Requests refused since start. */
  get shedCount(): number {
    return this.#shed;
  }

  /** Takes a slot when one is free for `requestClass`. Never waits. */
  tryAcquire(requestClass: RequestClass = 'app'): boolean {
    if (this.#fits(requestClass)) {
      this.#inFlight += 1;
      return true;
    }
    return false;
  }

  /**
   * Takes a slot, waiting in the bounded queue when that is enabled.
   * Resolves `true` once admitted, `false` when shed (and counts the shed).
   */
  acquire(requestClass: RequestClass = 'app'): boolean | Promise<boolean> {
    if (this.tryAcquire(requestClass)) return true;
    if (this.queued >= this.maxQueue || this.maxQueueWaitMs <= 0) {
      this.#shed += 1;
      return false;
    }
    const queue = this.#queues[requestClass];
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          const index = queue.indexOf(waiter);
          if (index !== -1) queue.splice(index, 1);
          this.#shed += 1;
          resolve(false);
        }, this.maxQueueWaitMs),
      };
      waiter.timer.unref?.();
      queue.push(waiter);
    });
  }

  /** Counts a request refused without asking for a slot. */
  recordShed(): void {
    this.#shed += 1;
  }

  /**
   * Gives a slot back and hands free slots to waiters (control first). With
   * `startedAt` (from `now()`, when the slot was taken) the request counts as
   * completed and its latency feeds the adaptive limit; without, it does not
   * (a client that went away, a request that became a stream).
   */
  release(startedAt?: number): void {
    if (this.#inFlight === 0) return;
    if (startedAt !== undefined && this.adaptive !== undefined) {
      const now = this.now();
      this.adaptive.sample(now - startedAt, startedAt, this.#inFlight);
    }
    this.#inFlight -= 1;
    if (this.queued > 0) this.#drain();
  }

  /** Suggested `Retry-After` in whole seconds. */
  retryAfterSeconds(): number {
    return 1;
  }

  #fits(requestClass: RequestClass): boolean {
    let limit = this.limit;
    if (this.#inFlight < limit) return true;
    if (this.adaptive?.probing) {
      // A probe that cannot end by itself (no samples) ends here.
      this.adaptive.refresh();
      limit = this.limit;
      if (this.#inFlight < limit) return true;
    }
    return (
      requestClass === 'control' &&
      this.#inFlight < limit + Math.floor(limit * this.controlHeadroom)
    );
  }

  #drain(): void {
    for (const requestClass of ['control', 'app'] as const) {
      const queue = this.#queues[requestClass];
      while (queue.length > 0 && this.#fits(requestClass)) {
        const next = queue.shift() as Waiter;
        clearTimeout(next.timer);
        this.#inFlight += 1;
        next.grant(true);
      }
    }
  }
}
