import { ClientErrorCode, clientClosedError, SessionClientError } from './errors.js';

/** How {@link ReconnectScheduler} spaces attempts. */
export interface ReconnectSchedulerOptions {
  /** Delay before attempt `attempt` (0 for the first retry), in milliseconds. */
  delayMs: (attempt: number) => number;
  /** Attempts allowed in a row before giving up; `Infinity` never gives up. */
  maxAttempts: number;
  /** Called when an attempt is scheduled, before its delay runs. */
  onSchedule: (attempt: number, delayMs: number) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Spaces reconnect attempts. `wait()` resolves when the next attempt may go:
 * after the backoff delay, at once on `wake()` (the browser's `online`
 * event), never while `pause()`d (offline), and it rejects once `close()`d.
 * `reset()` after a success starts the next loss at attempt 0 again.
 * One timer at most, cleared by every path out.
 */
export class ReconnectScheduler {
  readonly #options: ReconnectSchedulerOptions;
  #attempt = 0;
  #paused = false;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters = new Set<Waiter>();

  constructor(options: ReconnectSchedulerOptions) {
    this.#options = options;
  }

  /** The number of the next attempt (0 after a success). */
  get attempt(): number {
    return this.#attempt;
  }

  /** True while an attempt waits for its delay or for `online`. */
  get waiting(): boolean {
    return this.#waiters.size > 0;
  }

  /**
   * Waits before the next attempt.
   * @throws SessionClientError `RECONNECT_FAILED` past `maxAttempts`, `CLIENT_CLOSED` after `close()`.
   */
  wait(): Promise<void> {
    if (this.#closed) return Promise.reject(clientClosedError());
    if (this.#attempt >= this.#options.maxAttempts) {
      return Promise.reject(
        new SessionClientError(
          ClientErrorCode.RECONNECT_FAILED,
          `Gave up reconnecting after ${this.#attempt} attempts`,
        ),
      );
    }
    const attempt = this.#attempt;
    this.#attempt += 1;
    const delayMs = Math.max(0, this.#options.delayMs(attempt));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.#waiters.add(waiter);
      this.#options.onSchedule(attempt, delayMs);
      if (!this.#paused) this.#arm(delayMs);
    });
  }

  /** Forgets past failures: the next loss starts at attempt 0. */
  reset(): void {
    this.#attempt = 0;
  }

  /** Lets pending and new waits go at once, from attempt 0 (the `online` event). */
  wake(): void {
    this.#paused = false;
    this.#attempt = 0;
    this.#release();
  }

  /** Holds every wait until `wake()` (the `offline` event). */
  pause(): void {
    this.#paused = true;
    this.#disarm();
  }

  /** Rejects pending waits and every later one; clears the timer. */
  close(): void {
    this.#closed = true;
    this.#disarm();
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.reject(clientClosedError());
  }

  #arm(delayMs: number): void {
    this.#disarm();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#release();
    }, delayMs);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #release(): void {
    this.#disarm();
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.resolve();
  }
}
