// Pins held by a node that dies (kill -9, frozen) are undone by the next sweep
// on any node once the dead node's lease lapses. A node "dies" here by losing
// its connection without closing the store: its lease is no longer renewed,
// exactly as after kill -9 (apps/demo/src/multi-node.test.ts kills real
// processes).
import { randomBytes } from 'node:crypto';
import { deleteKeys, type RedisTestServer, startRedis } from '@morgan/test-support';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { sessionRecord as record } from '../conformance/records.js';
import { KeyLayout } from './key-layout.js';
import { RedisStore } from './redis-store.js';

const TIMEOUT_MS = 60_000;
// Long enough that no lease lapses by itself during a test, however slow the
// machine: tests make it lapse (PEXPIRE, DEL) or renew it (fake interval).
const LEASE_MS = 60_000;

let redis: RedisTestServer;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  await admin?.quit();
  await redis?.stop();
});

/** Polls `check` every 20 ms until it resolves true, for at most 15 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('RedisStore node leases', () => {
  let keyPrefix: string;
  let survivor: RedisStore;
  let victimClient: Redis;
  let victim: RedisStore;

  beforeEach(() => {
    keyPrefix = `${redis.keyPrefix}${randomBytes(4).toString('hex')}:`;
    survivor = new RedisStore({ url: redis.url, keyPrefix, nodeId: 'survivor' });
    victimClient = new Redis(redis.url);
    victim = new RedisStore({
      client: victimClient,
      keyPrefix,
      nodeId: 'victim',
      leaseMs: LEASE_MS,
    });
    for (const store of [survivor, victim]) store.configure({ sessionTimeoutMs: TIMEOUT_MS });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all([survivor.close(), victim.close()]);
    victimClient.disconnect();
    await deleteKeys(redis.url, keyPrefix);
  });

  /** The node's lease in the shard of `sessionId` (one per shard it pins in). */
  const leaseOf = (node: string, sessionId: string) =>
    new KeyLayout(keyPrefix).shardOf(sessionId).lease(node);
  const shardOf = (sessionId: string) => new KeyLayout(keyPrefix).shardOf(sessionId);

  it('undoes the pins of a node that died once its lease lapses, keeping the pins of others', async () => {
    const t0 = Date.now();
    const shared = record(t0);
    const alone = record(t0);
    await survivor.create(shared);
    await survivor.create(alone);
    await victim.addRequest(shared.sessionId, 'victim-request', t0 + 1);
    await victim.addConnection(shared.sessionId, t0 + 1);
    await victim.addConnection(shared.sessionId, t0 + 1);
    await survivor.addConnection(shared.sessionId, t0 + 2);
    await survivor.addRequest(shared.sessionId, 'survivor-request', t0 + 2);
    await victim.addConnection(alone.sessionId, t0 + 3);
    expect(await survivor.get(shared.sessionId, t0 + 3)).toMatchObject({
      connectionCount: 3,
      activeRequests: ['victim-request', 'survivor-request'],
    });
    expect(await admin.smembers(shardOf(shared.sessionId).nodes)).toEqual(
      expect.arrayContaining(['survivor', 'victim']),
    );
    // While its lease holds, a sweep keeps a node's pins.
    expect(await survivor.sweep(t0 + 4)).toEqual([]);
    expect(await survivor.get(alone.sessionId, t0 + 4)).toMatchObject({ connectionCount: 1 });

    victimClient.disconnect(); // as kill -9: nothing is cleaned up, the lease is not renewed
    const leases = [leaseOf('victim', shared.sessionId), leaseOf('victim', alone.sessionId)];
    for (const lease of leases) {
      expect(await admin.exists(lease)).toBe(1);
      await admin.pexpire(lease, 50); // the rest of its life goes by
    }
    const late = t0 + 10;
    await until(async () => (await admin.exists(...leases)) === 0);
    expect(await survivor.sweep(late)).toEqual([]);

    expect(await survivor.get(shared.sessionId, late)).toMatchObject({
      connectionCount: 1,
      activeRequests: ['survivor-request'],
    });
    const freed = await survivor.get(alone.sessionId, late);
    expect(freed).toMatchObject({ connectionCount: 0, activeRequests: [] });
    expect(await admin.sismember(shardOf(alone.sessionId).pinned, alone.sessionId)).toBe(0);
    expect(await admin.zscore(shardOf(alone.sessionId).idle, alone.sessionId)).toBe(String(t0 + 3));
    expect(await admin.pttl(new KeyLayout(keyPrefix).session(alone.sessionId))).toBeGreaterThan(
      TIMEOUT_MS,
    );
    expect(await admin.smembers(shardOf(shared.sessionId).nodes)).toEqual(['survivor']);
    expect(await admin.sismember(shardOf(alone.sessionId).nodes, 'victim')).toBe(0);
    expect(await admin.exists(shardOf(shared.sessionId).pins('victim'))).toBe(0);
    expect(await admin.exists(shardOf(alone.sessionId).pins('victim'))).toBe(0);

    // The freed session expires on schedule; the one the survivor holds does not.
    const swept = await survivor.sweep(t0 + 3 + TIMEOUT_MS + 1);
    expect(swept.map((r) => r.sessionId)).toEqual([alone.sessionId]);
    await survivor.removeRequest(shared.sessionId, 'survivor-request', late);
    await survivor.removeConnection(shared.sessionId, late);
    expect(await survivor.get(shared.sessionId, late)).toMatchObject({
      connectionCount: 0,
      activeRequests: [],
    });
    expect(await survivor.count()).toBe(1);
  });

  it('a node whose pins were undone cannot uncount the connections of others', async () => {
    const t0 = Date.now();
    const value = record(t0);
    await survivor.create(value);
    await victim.addConnection(value.sessionId, t0 + 1);
    await victim.addRequest(value.sessionId, 'late', t0 + 1);
    await survivor.addConnection(value.sessionId, t0 + 2);
    await admin.del(leaseOf('victim', value.sessionId)); // as a node frozen for longer than its lease
    await survivor.sweep(t0 + 3);
    expect(await survivor.get(value.sessionId, t0 + 3)).toMatchObject({ connectionCount: 1 });

    // The node comes back and ends what it thinks it still holds.
    await victim.removeConnection(value.sessionId, t0 + 4);
    await victim.removeRequest(value.sessionId, 'late', t0 + 4);
    expect(await survivor.get(value.sessionId, t0 + 4)).toMatchObject({
      connectionCount: 1,
      activeRequests: [],
    });
    // New pins take a new lease and count again.
    await victim.addConnection(value.sessionId, t0 + 5);
    expect(await admin.exists(leaseOf('victim', value.sessionId))).toBe(1);
    await victim.removeConnection(value.sessionId, t0 + 6);
    await survivor.removeConnection(value.sessionId, t0 + 6);
    expect(await survivor.get(value.sessionId, t0 + 6)).toMatchObject({ connectionCount: 0 });
  });

  it('renews the lease while the node runs and releases it on close, so leftovers go at once', async () => {
    // The renewal timer (setInterval, every leaseMs / 3) runs on fake time, so
    // each renewal happens when the test says, and Redis' real TTL shows it.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const t0 = Date.now();
    const value = record(t0);
    await victim.create(value);
    await victim.addConnection(value.sessionId, t0 + 1); // sets the lease and starts the timer
    const lease = leaseOf('victim', value.sessionId);
    const SHORT_MS = 10_000;
    for (let round = 0; round < 3; round += 1) {
      await admin.pexpire(lease, SHORT_MS); // as if most of its life had gone by
      expect(await admin.pttl(lease)).toBeLessThanOrEqual(SHORT_MS); // nothing re-arms it early
      vi.advanceTimersByTime(LEASE_MS / 3);
      // Re-armed to a full life by the timer (the SET PX is on its way).
      await until(async () => (await admin.pttl(lease)) > SHORT_MS);
    }
    expect(await survivor.sweep(t0 + 2)).toEqual([]);
    expect(await survivor.get(value.sessionId, t0 + 2)).toMatchObject({ connectionCount: 1 });

    await victim.close(); // a drain that did not finish: the socket is still counted
    expect(await admin.exists(leaseOf('victim', value.sessionId))).toBe(0);
    await survivor.sweep(t0 + 3);
    expect(await survivor.get(value.sessionId, t0 + 3)).toMatchObject({ connectionCount: 0 });
  });
});
