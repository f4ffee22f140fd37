import type { StoreConnection } from './connection.js';

/**
 * A node's leases in Redis: one key per shard it pins sessions in
 * (`P{sN}node:<node>`), created with a TTL by the first script that pins a
 * session there (any pin makes sure one exists) and re-armed here, with the
 * node's place in the shard's node set, every `leaseMs / 3` while the node lives (an unref'd
 * timer, started by the first pin). When the node dies its keys lapse and
 * the next sweep on any node undoes its pins (lease-scripts.ts).
 * `release()` deletes the keys at shutdown, so pins left by an unfinished
 * drain are undone at once.
 */
export class NodeLease {
  readonly leaseMs: number;
  readonly #connection: StoreConnection<string>;
  readonly #nodeId: string;
  /** Lease key → the shard's node set, for every shard this node pinned in. */
  readonly #keys = new Map<string, string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #released = false;

  constructor(connection: StoreConnection<string>, nodeId: string, leaseMs: number) {
    this.#connection = connection;
    this.#nodeId = nodeId;
    this.leaseMs = leaseMs;
  }

  /** Keeps re-arming `key`, and this node in `nodesKey` (a pin script set them first). Idempotent. */
  keep(key: string, nodesKey: string): void {
    if (this.#released) return;
    this.#keys.set(key, nodesKey);
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
      [...this.#keys.keys()].map((key) =>
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
    const client = this.#connection.client;
    for (const [key, nodesKey] of this.#keys) {
      // The node set too: a sweep that found the lease lapsed (a slow Redis)
      // took this node out; being back in it lets a later sweep undo its pins.
      this.#connection
        .call(() =>
          Promise.all([
            client.set(key, '1', 'PX', this.leaseMs),
            client.sadd(nodesKey, this.#nodeId),
          ]),
        )
        .catch(() => {
          // Redis unreachable: the next tick tries again; a pin makes sure of a lease meanwhile.
        });
    }
  }
}
