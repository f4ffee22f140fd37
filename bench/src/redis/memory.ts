// What a set of keys costs inside Redis: `MEMORY USAGE` of each key found
// by SCAN (exact: SAMPLES 0 walks every element of a hash, set or zset),
// grouped by key type, and the server's `used_memory` for deltas. On a Redis
// Cluster both are summed over the masters (each SCANned for its own keys).
// Nothing here knows a store's key layout: callers pass a glob that matches it.
import { eachNode, type RedisCommand, type RedisNodes, throughput } from './rounds.js';

/** Keys and bytes of one Redis type (hash, zset, set, string …). */
export interface TypeMemory {
  keys: number;
  bytes: number;
}

/** Bytes held by the keys matching a pattern. */
export interface KeyMemory {
  keys: number;
  bytes: number;
  byType: Record<string, TypeMemory>;
  /** Keys and bytes on each server, in the order given (one entry for one Redis). */
  byNode: { keys: number; bytes: number }[];
}

const SCAN_COUNT = '1000';

/** `MEMORY USAGE … SAMPLES 0` over every key matching `pattern` (a SCAN glob), on every server. */
export async function keyMemory(nodes: RedisNodes, pattern: string): Promise<KeyMemory> {
  const result: KeyMemory = { keys: 0, bytes: 0, byType: {}, byNode: [] };
  for (const send of eachNode(nodes)) {
    const node = await nodeKeyMemory(send, pattern);
    result.byNode.push({ keys: node.keys, bytes: node.bytes });
    result.keys += node.keys;
    result.bytes += node.bytes;
    for (const [type, t] of Object.entries(node.byType)) {
      const entry = result.byType[type] ?? { keys: 0, bytes: 0 };
      result.byType[type] = entry;
      entry.keys += t.keys;
      entry.bytes += t.bytes;
    }
  }
  return result;
}

/** `keyMemory` on one server: SCAN there, `MEMORY USAGE` of what it holds. */
async function nodeKeyMemory(
  send: RedisCommand,
  pattern: string,
): Promise<Omit<KeyMemory, 'byNode'>> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const reply = (await send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT])) as [
      string,
      string[],
    ];
    cursor = reply[0];
    for (const key of reply[1]) keys.add(key);
  } while (cursor !== '0');

  const result: Omit<KeyMemory, 'byNode'> = { keys: 0, bytes: 0, byType: {} };
  const all = [...keys];
  for (let start = 0; start < all.length; start += 500) {
    const batch = all.slice(start, start + 500);
    const measured = await Promise.all(
      batch.map(async (key) => {
        const [type, bytes] = await Promise.all([
          send(['TYPE', key]),
          send(['MEMORY', 'USAGE', key, 'SAMPLES', '0']),
        ]);
        return { type: String(type), bytes: Number(bytes ?? 0) };
      }),
    );
    for (const { type, bytes } of measured) {
      const entry = result.byType[type] ?? { keys: 0, bytes: 0 };
      result.byType[type] = entry;
      entry.keys += 1;
      entry.bytes += bytes;
      result.keys += 1;
      result.bytes += bytes;
    }
  }
  return result;
}

/** The servers' `used_memory` (bytes the allocator holds for data and overhead), summed. */
export async function usedMemory(nodes: RedisNodes): Promise<number> {
  const infos = await Promise.all(
    eachNode(nodes).map(async (send) => String(await send(['INFO', 'memory']))),
  );
  return infos.reduce((sum, info) => sum + Number(/^used_memory:(\d+)/m.exec(info)?.[1]), 0);
}

/** Escapes a literal for a SCAN / KEYS glob. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** What Redis holds for `count` idle sessions of one store. */
export interface SessionMemory {
  /** MEMORY USAGE of every key the store wrote, summed, per session. */
  bytesPerSession: number;
  /** used_memory after minus before (summed over the servers), per session. */
  usedMemoryPerSession: number;
  keys: KeyMemory;
}

/**
 * Creates `count` sessions with `create(i)` (16 at a time) and measures the
 * keys whose names contain `keyPrefix` (the store's prefix, wherever its
 * layout puts it) and the servers' `used_memory` over the fill.
 */
export async function sessionMemory(
  nodes: RedisNodes,
  count: number,
  keyPrefix: string,
  create: (i: number) => Promise<unknown>,
): Promise<SessionMemory> {
  const before = await usedMemory(nodes);
  await throughput(count, 16, create);
  const after = await usedMemory(nodes);
  const keys = await keyMemory(nodes, `*${escapeGlob(keyPrefix)}*`);
  return {
    bytesPerSession: keys.bytes / count,
    usedMemoryPerSession: (after - before) / count,
    keys,
  };
}
