// What a set of keys costs inside Redis: `MEMORY USAGE` of each key found
// by SCAN (exact: SAMPLES 0 walks every element of a hash, set or zset),
// grouped by key type, and the server's `used_memory` for deltas. Nothing
// here knows a store's key layout: callers pass a glob that matches it.
import { type RedisCommand, throughput } from './rounds.js';

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
}

const SCAN_COUNT = '1000';

/** `MEMORY USAGE … SAMPLES 0` over every key matching `pattern` (a SCAN glob). */
export async function keyMemory(send: RedisCommand, pattern: string): Promise<KeyMemory> {
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

  const result: KeyMemory = { keys: 0, bytes: 0, byType: {} };
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

/** The server's `used_memory` (bytes the allocator holds for data and overhead). */
export async function usedMemory(send: RedisCommand): Promise<number> {
  const info = String(await send(['INFO', 'memory']));
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

/** Escapes a literal for a SCAN / KEYS glob. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** What Redis holds for `count` idle sessions of one store. */
export interface SessionMemory {
  /** MEMORY USAGE of every key the store wrote, summed, per session. */
  bytesPerSession: number;
  /** used_memory after minus before, per session. */
  usedMemoryPerSession: number;
  keys: KeyMemory;
}

/**
 * Creates `count` sessions with `create(i)` (16 at a time) and measures the
 * keys whose names contain `keyPrefix` (the store's prefix, wherever its
 * layout puts it) and the server's `used_memory` over the fill.
 */
export async function sessionMemory(
  send: RedisCommand,
  count: number,
  keyPrefix: string,
  create: (i: number) => Promise<unknown>,
): Promise<SessionMemory> {
  const before = await usedMemory(send);
  await throughput(count, 16, create);
  const after = await usedMemory(send);
  const keys = await keyMemory(send, `*${escapeGlob(keyPrefix)}*`);
  return {
    bytesPerSession: keys.bytes / count,
    usedMemoryPerSession: (after - before) / count,
    keys,
  };
}
