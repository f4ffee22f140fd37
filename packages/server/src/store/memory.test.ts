import { describe, expect, it } from 'vitest';
import { sessionRecord as record } from '../conformance/records.js';
import { describeStoreConformance } from '../conformance/store.js';
import { vitestRunner } from '../testing/vitest-runner.js';
import { MemoryStore } from './memory.js';

describeStoreConformance(vitestRunner, {
  name: 'MemoryStore',
  capabilities: ['idempotency', 'rateLimits', 'listing', 'events', 'syncRequests'],
  createStore: () => new MemoryStore(),
});

const TIMEOUT_MS = 1000;
const T0 = 1_700_000_000_000;

/**
 * Fills a store with `total` sessions, one per millisecond from T0, and
 * replaces `lastActivity` on each stored record with an accessor that counts
 * reads, so a test can see how many records an operation looked at.
 */
async function countingStore(total: number) {
  const store = new MemoryStore();
  store.configure({ sessionTimeoutMs: TIMEOUT_MS });
  const ids: string[] = [];
  for (let i = 0; i < total; i += 1) {
    const value = record(T0 + i);
    await store.create(value);
    ids.push(value.sessionId);
  }
  const reads = { count: 0 };
  for (const id of ids) {
    const stored = await store.get(id, T0);
    if (stored === undefined) throw new Error('missing record');
    let lastActivity = stored.lastActivity;
    Object.defineProperty(stored, 'lastActivity', {
      get: () => {
        reads.count += 1;
        return lastActivity;
      },
      set: (value: number) => {
        lastActivity = value;
      },
    });
  }
  reads.count = 0;
  return { store, ids, reads };
}

describe('MemoryStore sweep cost', () => {
  it('looks at one record when nothing has expired among many', async () => {
    const { store, reads } = await countingStore(20_000);
    expect(await store.sweep(T0 + TIMEOUT_MS)).toEqual([]);
    expect(reads.count).toBeLessThanOrEqual(2);
    expect(await store.count()).toBe(20_000);
  });

  it('looks at the k expired records plus one, and removes exactly those', async () => {
    const { store, ids, reads } = await countingStore(20_000);
    const k = 25;
    // Session i was last active at T0 + i; at this time sessions 0..k-1 have expired.
    const swept = await store.sweep(T0 + k - 1 + TIMEOUT_MS + 1);
    expect(swept.map((r) => r.sessionId)).toEqual(ids.slice(0, k));
    expect(reads.count).toBeLessThanOrEqual(2 * (k + 1));
    expect(await store.count()).toBe(20_000 - k);
  });

  it('still finds expired records behind a session that was touched', async () => {
    const { store, ids, reads } = await countingStore(1000);
    const first = ids[0] ?? '';
    await store.touch(first, T0 + 1000);
    reads.count = 0;
    const swept = await store.sweep(T0 + 9 + TIMEOUT_MS + 1);
    expect(swept.map((r) => r.sessionId)).toEqual(ids.slice(1, 10));
    expect(reads.count).toBeLessThanOrEqual(2 * 10);
    expect(await store.get(first, T0 + 9 + TIMEOUT_MS + 1)).toBeDefined();
  });

  it('skips pinned sessions without looking at them', async () => {
    const { store, ids, reads } = await countingStore(1000);
    for (const id of ids.slice(0, 500)) await store.addConnection(id, T0 + 1000);
    reads.count = 0;
    const now = T0 + 10 * TIMEOUT_MS;
    const swept = await store.sweep(now);
    expect(swept.map((r) => r.sessionId)).toEqual(ids.slice(500));
    expect(reads.count).toBeLessThanOrEqual(2 * 501);
    for (const id of ids.slice(0, 500)) await store.removeConnection(id, now);
    expect(await store.sweep(now + TIMEOUT_MS)).toEqual([]);
    expect(await store.sweep(now + TIMEOUT_MS + 1)).toHaveLength(500);
  });
});

describe('MemoryStore records', () => {
  it('keeps its own copy of a created record', async () => {
    const store = new MemoryStore();
    store.configure({ sessionTimeoutMs: TIMEOUT_MS });
    const value = { ...record(T0), activeRequests: ['r1'] };
    await store.create(value);
    value.metadata = '{"changed":true}';
    value.lastActivity = T0 - 10 * TIMEOUT_MS;
    (value.activeRequests as string[]).push('r2');
    const stored = await store.get(value.sessionId, T0);
    expect(stored?.metadata).toBe('{}');
    expect(stored?.lastActivity).toBe(T0);
    expect(stored?.activeRequests).toEqual(['r1']);
  });

  it('uses a one-hour timeout until configured', async () => {
    const store = new MemoryStore();
    const value = record(T0);
    await store.create(value);
    expect(await store.get(value.sessionId, T0 + 3_600_000)).toBeDefined();
    expect(await store.get(value.sessionId, T0 + 3_600_001)).toBeUndefined();
  });

  it('is named memory', () => {
    expect(new MemoryStore().name).toBe('memory');
  });
});

describe('MemoryStore list', () => {
  it('lists live sessions of every user, most recently active first, up to the limit', async () => {
    const store = new MemoryStore();
    store.configure({ sessionTimeoutMs: TIMEOUT_MS });
    const old = record(T0);
    const pinned = record(T0);
    const fresh = { ...record(T0 + 500), userId: 'u1' };
    const newest = record(T0 + 900);
    for (const value of [old, pinned, fresh, newest]) await store.create(value);
    await store.addConnection(pinned.sessionId, T0 + 100);
    const deleted = record(T0 + 950);
    await store.create(deleted);
    await store.delete(deleted.sessionId);

    const now = T0 + 100 + TIMEOUT_MS + 1;
    const ids = (await store.list(10, now)).map((r) => r.sessionId);
    expect(ids).toEqual([newest.sessionId, fresh.sessionId, pinned.sessionId]);
    expect((await store.list(2, now)).map((r) => r.sessionId)).toEqual(ids.slice(0, 2));
    expect(await store.list(0, now)).toEqual([]);
  });
});
