import { Redis } from 'ioredis';

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

/** Options of `RedisMessageCounter`. */
export interface RedisMessageCounterOptions {
  /** Redis URL, as for `RedisStore`. */
  url: string;
  /** Prefix of the keys, shared with the session store. @default 'morgan:' */
  keyPrefix?: string;
  /** Lifetime of an unused count, in ms (keep it above the session timeout). @default 2 hours */
  ttlMs?: number;
}

/** Counts in Redis: one `INCR` + `PEXPIRE` transaction (one round trip) per message. */
export class RedisMessageCounter implements MessageCounter {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(options: RedisMessageCounterOptions) {
    this.#redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    this.#redis.on('error', () => {});
    void this.#redis.connect().catch(() => {});
    this.#prefix = `${options.keyPrefix ?? 'morgan:'}chat-count:`;
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

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
