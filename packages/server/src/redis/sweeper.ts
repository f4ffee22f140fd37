import type { SessionRecord } from '../session.js';
import type { ShardKeys } from './key-layout.js';
import { toRecords } from './records.js';
import type { RedisConnectionParts } from './session-reads.js';

/** What a sweep needs beyond the connection: settings read when it runs. */
export interface SweepSettings {
  readonly nodeId: string;
  readonly sweepBatchSize: number;
  /** The session timeout, in ms. */
  timeoutMs(): number;
  /** The life of an idle session's key, in ms. */
  ttlMs(): number;
  /** Called for each session a sweep ended (this node's write memory, the user's index). */
  ended(record: SessionRecord): void;
}

/**
 * The store's sweep: visits every shard (in parallel), first undoing the
 * pins of nodes whose lease lapsed there, then ending the sessions idle past
 * the timeout, oldest first, `sweepBatchSize` per script call.
 */
export class RedisSweeper {
  readonly #parts: RedisConnectionParts;
  readonly #settings: SweepSettings;

  constructor(parts: RedisConnectionParts, settings: SweepSettings) {
    this.#parts = parts;
    this.#settings = settings;
  }

  async sweep(now: number): Promise<SessionRecord[]> {
    const cutoff = now - this.#settings.timeoutMs();
    const removed = await Promise.all(
      this.#parts.keys.shards.map(async (shard) => {
        await this.#reapLapsedNodes(shard);
        return this.#expireIdle(shard, cutoff);
      }),
    );
    return removed.flat();
  }

  /** Ends the shard's sessions idle since before `cutoff`, in batches; returns them. */
  async #expireIdle(shard: ShardKeys, cutoff: number): Promise<SessionRecord[]> {
    const { connection, keys } = this.#parts;
    const { sweepBatchSize, nodeId } = this.#settings;
    const removed: SessionRecord[] = [];
    const client = connection.client;
    for (;;) {
      const ids = await connection.call(() =>
        client.zrangebyscore(shard.idle, '-inf', `(${cutoff}`, 'LIMIT', 0, sweepBatchSize),
      );
      if (ids.length === 0) return removed;
      const batch = toRecords(
        await connection.run(
          'morganExpire',
          1 + ids.length,
          shard.idle,
          ...ids.map((id) => keys.session(id)),
          cutoff,
          nodeId,
          keys.storeEvents,
          ...ids,
        ),
      );
      for (const record of batch) this.#settings.ended(record);
      removed.push(...batch);
      if (ids.length < sweepBatchSize) return removed;
    }
  }

  /** Undoes, in this shard, the pins of every node whose lease there has lapsed. */
  async #reapLapsedNodes(shard: ShardKeys): Promise<void> {
    const { connection, keys } = this.#parts;
    const client = connection.client;
    const nodes = await connection.call(() => client.smembers(shard.nodes));
    await Promise.all(
      nodes.map(async (node) => {
        const leased = await connection.call(() => client.exists(shard.lease(node)));
        if (leased === 1) return;
        const pins = await connection.call(() => client.hkeys(shard.pins(node)));
        const ids = [...new Set(pins.map(pinnedSessionId))];
        await connection.run(
          'morganReap',
          5 + ids.length,
          shard.pins(node),
          shard.nodes,
          shard.lease(node),
          shard.idle,
          shard.pinned,
          ...ids.map((id) => keys.session(id)),
          node,
          this.#settings.ttlMs(),
          ...ids,
        );
      }),
    );
  }
}

/** The session id of a pin field: "c\t<id>" or "r\t<id>\t<request id>". */
function pinnedSessionId(field: string): string {
  const end = field.indexOf('\t', 2);
  return end === -1 ? field.slice(2) : field.slice(2, end);
}
