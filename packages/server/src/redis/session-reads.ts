import type { SessionRecord } from '../session.js';
import type { StoreConnection } from './connection.js';
import type { KeyLayout } from './key-layout.js';
import { type RawFields, toRecord } from './records.js';
import { FIELDS, type ScriptName } from './scripts.js';

/** The connection and key layout a `RedisStore`'s parts share. */
export interface RedisConnectionParts {
  readonly connection: StoreConnection<ScriptName>;
  readonly keys: KeyLayout;
}

/**
 * Reads of session records that are not one script: one record (HMGET), a
 * user's sessions through the user's index, a page of live sessions; and the
 * upkeep of the user indexes.
 */
export class SessionReads {
  readonly #parts: RedisConnectionParts;
  readonly #timeoutMs: () => number;

  constructor(parts: RedisConnectionParts, timeoutMs: () => number) {
    this.#parts = parts;
    this.#timeoutMs = timeoutMs;
  }

  /** The raw fields of a session's hash (one HMGET). */
  read(sessionId: string): Promise<RawFields> {
    const { connection, keys } = this.#parts;
    return connection.call(() => connection.client.hmget(keys.session(sessionId), ...FIELDS));
  }

  /** The records of `ids` (undefined where the hash is gone), one HMGET each, all sent at once. */
  async readAll(ids: readonly string[]): Promise<(SessionRecord | undefined)[]> {
    const replies = await Promise.all(ids.map((id) => this.read(id)));
    return replies.map((fields, i) =>
      fields[2] === null ? undefined : toRecord(ids[i] as string, fields),
    );
  }

  /**
   * The user's live sessions, from the user's index and one HMGET per entry;
   * entries whose session ended (or went to another user) are dropped from
   * the index on the way.
   */
  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const { connection, keys } = this.#parts;
    const indexKey = keys.user(userId);
    const ids = await connection.call(() => connection.client.smembers(indexKey));
    const records = await this.readAll(ids);
    const live: SessionRecord[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const record = records[i];
      if (record === undefined || record.userId !== userId) stale.push(id);
      else if (isLive(record, now, this.#timeoutMs())) live.push(record);
    });
    if (stale.length > 0) {
      connection.call(() => connection.client.srem(indexKey, ...stale)).catch(() => {});
    }
    return live.sort((x, y) => y.lastActivity - x.lastActivity);
  }

  /**
   * Up to `limit` live sessions, most recently active first: from each shard
   * its pinned sessions and its `limit` most recently active idle ones, so
   * the cost is the number of pinned sessions plus 16 × `limit` reads.
   */
  async list(limit: number, now: number): Promise<SessionRecord[]> {
    const { connection, keys } = this.#parts;
    const count = Math.max(0, Math.floor(limit));
    const cutoff = now - this.#timeoutMs();
    const client = connection.client;
    const perShard = await Promise.all(
      keys.shards.map((shard) =>
        connection.call(async () => {
          const [pinned, idle] = await Promise.all([
            client.smembers(shard.pinned),
            count === 0
              ? Promise.resolve([])
              : client.zrevrangebyscore(shard.idle, '+inf', cutoff, 'LIMIT', 0, count),
          ]);
          return [...pinned, ...idle];
        }),
      ),
    );
    const records = await this.readAll(perShard.flat());
    return records
      .filter((record): record is SessionRecord => record !== undefined)
      .sort((x, y) => y.lastActivity - x.lastActivity)
      .slice(0, count);
  }

  /** Sessions in the store: idle and pinned, counted per shard. */
  async count(): Promise<number> {
    const { connection, keys } = this.#parts;
    const client = connection.client;
    const counts = await Promise.all(
      keys.shards.map((shard) =>
        connection.call(() => Promise.all([client.zcard(shard.idle), client.scard(shard.pinned)])),
      ),
    );
    return counts.reduce((sum, [idle, pinned]) => sum + idle + pinned, 0);
  }

  /** Adds a session to its user's index. */
  indexUser(userId: string, sessionId: string): Promise<number> {
    const { connection, keys } = this.#parts;
    return connection.call(() => connection.client.sadd(keys.user(userId), sessionId));
  }

  /** Drops an index entry, best effort: readers drop entries whose session is gone anyway. */
  async unindexUser(userId: string, sessionId: string): Promise<void> {
    const { connection, keys } = this.#parts;
    await connection
      .call(() => connection.client.srem(keys.user(userId), sessionId))
      .catch(() => {});
  }
}

/** A pinned session lives; an idle one while it is no older than the timeout. */
export function isLive(record: SessionRecord, now: number, timeoutMs: number): boolean {
  const pinned = record.connectionCount > 0 || record.activeRequests.length > 0;
  return pinned || now - record.lastActivity <= timeoutMs;
}
