import type { EventLog } from '../events/event-log.js';
import type { StoreFallback } from '../store/capabilities.js';
import type { Store } from '../store/store.js';
import type { SessionAnnouncer } from './announcer.js';
import type { RequestTracker } from './request-tracking.js';
import type { Sweeper } from './sweeper.js';

/** What a `Lifecycle` needs. */
export interface LifecycleParts {
  readonly store: Store;
  /** The store's missing capabilities, announced at the first start. */
  readonly storeFallbacks: readonly StoreFallback[];
  readonly events: EventLog;
  readonly sweeper: Sweeper;
  /** Hears other nodes' events while started. */
  readonly announcer: SessionAnnouncer;
  /** Drained before the store closes. */
  readonly requests: RequestTracker;
}

/**
 * Start and stop, once each: `start()` runs the periodic sweep, listens
 * to other nodes' events and tells of the store's fallbacks; `stop()` drains the requests in flight, then
 * releases the timer and the subscription and closes the store and the
 * event log, so the process can exit.
 */
export class Lifecycle {
  readonly #parts: LifecycleParts;
  #unsubscribe: (() => void) | undefined;
  #stopping: Promise<void> | undefined;

  constructor(parts: LifecycleParts) {
    this.#parts = parts;
  }

  get running(): boolean {
    return this.#parts.sweeper.running;
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Idempotent; does nothing once stopping. */
  start(): void {
    const { sweeper, store, announcer } = this.#parts;
    if (sweeper.running || this.#stopping !== undefined) return;
    sweeper.start();
    this.#unsubscribe = store.subscribe?.((event) => announcer.fromStore(event));
    announcer.storeFellBack(store, this.#parts.storeFallbacks);
  }

  /** The one stop, waiting at most `drainTimeoutMs` for requests in flight. */
  stop(drainTimeoutMs: number): Promise<void> {
    this.#stopping ??= this.#stop(drainTimeoutMs);
    return this.#stopping;
  }

  async #stop(drainTimeoutMs: number): Promise<void> {
    const { requests, sweeper, store, events } = this.#parts;
    await requests.drain(drainTimeoutMs);
    sweeper.stop();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await store.close();
    await events.close();
  }
}
