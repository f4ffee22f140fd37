import type { StoreConnection } from './connection.js';

/**
 * A node's leases in Redis: one key per shard it pins sessions in
 * (`P{sN}node:<node>`), set with a TTL by every script that pins a session
 * and re-armed here every `leaseMs / 3` while the node lives (an unref'd
 * timer, started by the first pin). When the node dies its keys lapse and
 * the next sweep on any node undoes its pins (lease-scripts.ts).
 * `release()` deletes the keys at shutdown, so pins left by an unfinished
 * drain are undone at once.
 */
export class NodeLease {
  readonly leaseMs: number;
  readonly #connection: StoreConnection<string>;
  readonly #keys = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #released = false;

  constructor(connection: StoreConnection<string>, leaseMs: number) {
    this.#connection = connection;
    this.leaseMs = leaseMs;
  }

  /** Keeps re-arming `key` (a pin script set it first). Idempotent. */
  keep(key: string): void {
    if (this.#released) return;
    this.#keys.add(key);
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#renew(), Math.max(1, Math.floor(this.leaseMs / 3)));
    this.#timer.unref();
  }

  /** Stops re-arming and deletes the lease keys, when Redis answers. */
  async release(): Promise<void> {
    this.#released = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    // One DEL per key: on a cluster the keys live in different slots.
    await Promise.all(
      [...this.#keys].map((key) =>
        this.#connection
          .call(() => this.#connection.client.del(key))
          .catch(() => {
            // Unreachable: the lease lapses by itself.
          }),
      ),
    );
    this.#keys.clear();
  }

  #renew(): void {
    for (const key of this.#keys) {
      this.#connection
        .call(() => this.#connection.client.set(key, '1', 'PX', this.leaseMs))
        .catch(() => {
          // Redis unreachable: the next tick tries again.
        });
    }
  }
}
