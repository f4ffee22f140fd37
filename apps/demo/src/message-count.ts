import type { RedisStore } from '@morgan/session-server/redis';

/**
 * Messages sent per session. The chat's `messageCount` must follow the
 * session wherever it goes, so with Redis the count lives in Redis beside the
 * session and every node increments the same key.
 */
export interface MessageCounter {
  /** Adds one message and returns the new count. */
  increment(sessionId: string): Promise<number>;
  /** Messages counted so far (0 when none). */
  get(sessionId: string): Promise<number>;
  /** Forgets a session that ended. */
  forget(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

/** Counts in this process: the single-node default. */
export class MemoryMessageCounter implements MessageCounter {
  readonly #counts = new Map<string, number>();

  async increment(sessionId: string): Promise<number> {
    const count = (this.#counts.get(sessionId) ?? 0) + 1;
    this.#counts.set(sessionId, count);
    return count;
  }

  async get(sessionId: string): Promise<number> {
    return this.#counts.get(sessionId) ?? 0;
  }

  async forget(sessionId: string): Promise<void> {
    this.#counts.delete(sessionId);
  }

  async close(): Promise<void> {
    this.#counts.clear();
  }
}

/**
 * Counts in Redis beside the sessions: one `INCR` + `PEXPIRE` transaction
 * (one round trip) per message, on the session store's own connection
 * (`RedisStore.client`), so counts fail fast and recover exactly when the
 * sessions do.
 */
export class RedisMessageCounter implements MessageCounter {
  readonly #redis: RedisStore['client'];
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(store: RedisStore, options: { ttlMs?: number } = {}) {
    this.#redis = store.client;
    this.#prefix = `${store.keyPrefix}chat-count:`;
    // Keep an unused count a while past the session timeout; deletion and expiry remove it sooner.
    this.#ttlMs = options.ttlMs ?? 2 * 60 * 60 * 1000;
  }

  async increment(sessionId: string): Promise<number> {
    const key = this.#prefix + sessionId;
    const results = await this.#redis.multi().incr(key).pexpire(key, this.#ttlMs).exec();
    const [error, count] = results?.[0] ?? [new Error('Redis transaction was aborted'), 0];
    if (error) throw error;
    return Number(count);
  }

  async get(sessionId: string): Promise<number> {
    return Number((await this.#redis.get(this.#prefix + sessionId)) ?? 0);
  }

  async forget(sessionId: string): Promise<void> {
    await this.#redis.del(this.#prefix + sessionId);
  }

  /** The connection belongs to the store, which closes it. */
  async close(): Promise<void> {}
}
