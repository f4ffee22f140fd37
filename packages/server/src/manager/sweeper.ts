import type { Store } from '../store/store.js';
import type { SessionAnnouncer } from './announcer.js';

/** What a `Sweeper` needs. */
export interface SweeperParts {
  readonly store: Store;
  /** Announces each expired session (and a failed periodic sweep). */
  readonly announcer: SessionAnnouncer;
  readonly now: () => number;
  /** Time between periodic sweeps, in ms. */
  readonly intervalMs: number;
}

/**
 * Removes expired sessions from the store: on demand, and every
 * `intervalMs` while started. Its timer is `unref()`ed and cleared by `stop()`.
 */
export class Sweeper {
  readonly #store: Store;
  readonly #announcer: SessionAnnouncer;
  readonly #now: () => number;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #cleaned = 0;

  constructor(parts: SweeperParts) {
    this.#store = parts.store;
    this.#announcer = parts.announcer;
    this.#now = parts.now;
    this.#intervalMs = parts.intervalMs;
  }

  /** True while the periodic sweep runs. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Sessions removed by `cleanup()` (the periodic sweep among them) since start. */
  get cleaned(): number {
    return this.#cleaned;
  }

  /** Starts the periodic sweep; its failures are announced as `error`. */
  start(): void {
    this.#timer = setInterval(() => {
      this.cleanup().catch((error: unknown) => this.#announcer.failed(error));
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Sweeps and counts the sessions removed as cleaned up. */
  async cleanup(): Promise<number> {
    const removed = await this.sweep();
    this.#cleaned += removed;
    return removed;
  }

  /** Removes the expired sessions now and announces each as `expired`; returns how many. */
  async sweep(): Promise<number> {
    const records = await this.#store.sweep(this.#now());
    for (const record of records) this.#announcer.sessionExpired(record);
    return records.length;
  }

  /** Sessions alive now, counted once the expired ones are swept. */
  async countLive(): Promise<number> {
    await this.sweep();
    return this.#store.count();
  }
}
