import type { StoreConnection } from './connection.js';

/**
 * A node's lease in Redis: the key `P node:<node>`, set with a TTL by every
 * script that pins a session and re-armed here every `leaseMs / 3` while the
 * node lives (an unref'd timer, started by the first pin). When the node dies
 * the key lapses and the next sweep on any node undoes its pins
 * (lease-scripts.ts). `release()` deletes the key at shutdown, so pins left by
 * an unfinished drain are undone at once.
 */
export class NodeLease {
  readonly key: string;
  readonly leaseMs: number;
  readonly #connection: StoreConnection<string>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #released = false;

  constructor(connection: StoreConnection<string>, key: string, leaseMs: number) {
    this.#connection = connection;
    this.key = key;
    this.leaseMs = leaseMs;
  }

  /** Starts re-arming the lease (the pin scripts set it first). Idempotent. */
  keep(): void {
    if (this.#timer !== undefined || this.#released) return;
    this.#timer = setInterval(() => this.#renew(), Math.max(1, Math.floor(this.leaseMs / 3)));
    this.#timer.unref();
  }

  /** Stops re-arming and deletes the lease, when Redis answers. */
  async release(): Promise<void> {
    this.#released = true;
    const wasKept = this.#timer !== undefined;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (!wasKept) return;
    await this.#connection
      .call(() => this.#connection.client.del(this.key))
      .catch(() => {
        // Unreachable: the lease lapses by itself.
      });
  }

  #renew(): void {
    this.#connection
      .call(() => this.#connection.client.set(this.key, '1', 'PX', this.leaseMs))
      .catch(() => {
        // Redis unreachable: the next tick tries again.
      });
  }
}
