import { randomBytes, randomUUID } from 'node:crypto';
import { deleteKeys, type RedisTestServer, startRedis } from '@morgan/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionRecord as record } from '../conformance/records.js';
import { describeStoreConformance } from '../conformance/store.js';
import { CommandMonitor } from '../testing/command-monitor.js';
import { vitestRunner } from '../testing/vitest-runner.js';
import { KeyLayout, SHARDS } from './key-layout.js';
import { RedisStore } from './redis-store.js';

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** A store under `keyPrefix` (the suite expects touches to land exactly; coalescing has its own tests). */
const storeAt = (keyPrefix: string) =>
  new RedisStore({ url: redis.url, keyPrefix, touchResolutionMs: 0 });

describeStoreConformance(vitestRunner, {
  name: 'RedisStore',
  capabilities: ['idempotency', 'rateLimits', 'listing', 'events'],
  createStore: () => storeAt(`${redis.keyPrefix}${randomBytes(4).toString('hex')}:`),
  cleanup: (store) => deleteKeys(redis.url, store.keyPrefix),
  createPeer: (store) => storeAt(store.keyPrefix),
});

const TIMEOUT_MS = 60_000;
const GRACE_MS = 30_000;

describe('RedisStore on a real redis-server', () => {
  let store: RedisStore;
  let admin: Redis;
  let keyPrefix: string;
  let keys: KeyLayout;

  beforeAll(async () => {
    keyPrefix = `${redis.keyPrefix}${randomBytes(4).toString('hex')}:`;
    keys = new KeyLayout(keyPrefix);
    store = new RedisStore({
      url: redis.url,
      keyPrefix,
      ttlGraceMs: GRACE_MS,
      touchResolutionMs: 0,
    });
    store.configure({ sessionTimeoutMs: TIMEOUT_MS });
    admin = new Redis(redis.url);
    await store.ping();
  });
  afterAll(async () => {
    await store.close();
    await admin.quit();
  });

  it('costs one round trip per operation on a session, and one command per shard for counts', async () => {
    await using monitor = await CommandMonitor.open(redis.url);
    const t0 = Date.now();
    const value = record(t0, { userId: `user-${randomUUID()}` });
    const id = value.sessionId;
    const operations: [string, () => Promise<unknown>][] = [
      ['create', () => store.create(value)],
      ['get', () => store.get(id, t0)],
      ['touch', () => store.touch(id, t0 + 1)],
      ['addRequest', () => store.addRequest(id, 'r1', t0 + 2)],
      ['removeRequest', () => store.removeRequest(id, 'r1', t0 + 3)],
      ['addConnection', () => store.addConnection(id, t0 + 4)],
      ['removeConnection', () => store.removeConnection(id, t0 + 5)],
      ['listByUser', () => store.listByUser(value.userId ?? '', t0 + 5)],
      ['count', () => store.count()],
      ['delete', () => store.delete(id)],
    ];
    const costs: Record<string, string[]> = {};
    for (const [name, operation] of operations) {
      // Twice: the first use of a script on a connection sends EVAL, later ones EVALSHA.
      for (let i = 0; i < 2; i += 1) {
        // The store's own connection and its keys only: other clients of a shared Redis do not count.
        const commands = await monitor.commandsOf(operation, { from: [store.client], keyPrefix });
        costs[`${name}#${i}`] = commands.map((command) => command.name);
      }
    }
    // The per-request path: one script (or one read) each.
    for (const name of ['get', 'touch', 'addRequest', 'removeRequest', 'addConnection']) {
      expect({ name, commands: costs[`${name}#1`]?.length }).toEqual({ name, commands: 1 });
    }
    expect(costs['get#1']).toEqual(['hmget']);
    expect(costs['touch#1']).toEqual(['evalsha']);
    // The user's index is written apart from the session (another slot on a cluster).
    expect(costs['create#1']).toEqual(['sadd', 'evalsha']);
    expect(costs['listByUser#1']).toEqual(['smembers', 'hmget']);
    // The first delete removes the session and its index entry; the second finds nothing.
    expect(costs['delete#0']?.slice(1)).toEqual(['srem']);
    expect(costs['delete#1']).toEqual(['evalsha']);
    expect(costs['count#1']?.sort()).toEqual(
      [...Array(SHARDS).fill('scard'), ...Array(SHARDS).fill('zcard')].sort(),
    );
  });

  it('sets a TTL of timeout + grace on an idle session and PERSISTs it while pinned', async () => {
    const t0 = Date.now();
    const value = record(t0);
    const key = keys.session(value.sessionId);
    await store.create(value);
    const idleTtl = await admin.pttl(key);
    expect(idleTtl).toBeGreaterThan(TIMEOUT_MS);
    expect(idleTtl).toBeLessThanOrEqual(TIMEOUT_MS + GRACE_MS);

    await store.addRequest(value.sessionId, 'r1', t0 + 1);
    expect(await admin.pttl(key)).toBe(-1);
    await store.addConnection(value.sessionId, t0 + 2);
    await store.removeRequest(value.sessionId, 'r1', t0 + 3);
    expect(await admin.pttl(key)).toBe(-1); // still pinned by the connection
    expect(await admin.zscore(keys.shardOf(value.sessionId).idle, value.sessionId)).toBeNull();
    expect(await admin.sismember(keys.shardOf(value.sessionId).pinned, value.sessionId)).toBe(1);

    await store.removeConnection(value.sessionId, t0 + 4);
    expect(await admin.pttl(key)).toBeGreaterThan(TIMEOUT_MS);
    expect(await admin.zscore(keys.shardOf(value.sessionId).idle, value.sessionId)).toBe(
      String(t0 + 4),
    );
    expect(await admin.sismember(keys.shardOf(value.sessionId).pinned, value.sessionId)).toBe(0);
    await store.delete(value.sessionId);
  });

  it('re-arms the TTL on every touch', async () => {
    const t0 = Date.now();
    const value = record(t0);
    const key = keys.session(value.sessionId);
    await store.create(value);
    await admin.pexpire(key, 5_000);
    await store.touch(value.sessionId, t0 + 1);
    expect(await admin.pttl(key)).toBeGreaterThan(TIMEOUT_MS);
    await store.delete(value.sessionId);
  });

  it('writes nothing on a touch that would not move lastActivity', async () => {
    const t0 = Date.now();
    const value = record(t0);
    const key = keys.session(value.sessionId);
    await store.create(value);
    await admin.pexpire(key, 5_000);
    expect((await store.touch(value.sessionId, t0 - 1))?.lastActivity).toBe(t0);
    expect(await admin.pttl(key)).toBeLessThanOrEqual(5_000);
    expect(await admin.hget(key, 'la')).toBe(String(t0));
    await store.delete(value.sessionId);
  });

  it('announces a session whose key Redis already freed, and cleans its index', async () => {
    const t0 = Date.now();
    const value = record(t0);
    await store.create(value);
    await admin.del(keys.session(value.sessionId)); // as the TTL would
    const swept = await store.sweep(t0 + TIMEOUT_MS + 1);
    expect(swept.map((r) => [r.sessionId, r.lastActivity])).toEqual([[value.sessionId, t0]]);
    expect(await admin.zscore(keys.shardOf(value.sessionId).idle, value.sessionId)).toBeNull();
  });

  it('sweeps in batches and leaves the indexes empty', async () => {
    const small = new RedisStore({
      url: redis.url,
      keyPrefix: `${keyPrefix}batch:`,
      sweepBatchSize: 7,
    });
    small.configure({ sessionTimeoutMs: TIMEOUT_MS });
    const t0 = Date.now();
    const userId = `user-${randomUUID()}`;
    await Promise.all(Array.from({ length: 30 }, () => small.create(record(t0, { userId }))));
    const swept = await small.sweep(t0 + TIMEOUT_MS + 1);
    expect(swept).toHaveLength(30);
    expect(await small.count()).toBe(0);
    const batchKeys = new KeyLayout(`${keyPrefix}batch:`);
    expect(await admin.exists(batchKeys.user(userId))).toBe(0);
    for (const shard of batchKeys.shards) expect(await admin.exists(shard.idle)).toBe(0);
    await small.close();
  });

  it('uses an ioredis client passed in and leaves it open on close', async () => {
    const client = new Redis(redis.url);
    const borrowed = new RedisStore({ client, keyPrefix: `${keyPrefix}borrowed:` });
    borrowed.configure({ sessionTimeoutMs: TIMEOUT_MS });
    const value = record(Date.now());
    await borrowed.create(value);
    expect(await store.get(value.sessionId, value.createdAt)).toBeUndefined(); // other prefix
    expect((await borrowed.get(value.sessionId, value.createdAt))?.sessionId).toBe(value.sessionId);
    await borrowed.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it('keeps metadata and request ids with any characters', async () => {
    const t0 = Date.now();
    const value = record(t0, { metadata: '{"a":"\\u0000 \\" ] [ , é"}' });
    await store.create(value);
    const odd = ['a"b', 'c,d', '[x]', 'é/\\'];
    for (const requestId of odd) await store.addRequest(value.sessionId, requestId, t0);
    const found = await store.get(value.sessionId, t0);
    expect(found?.activeRequests).toEqual(odd);
    expect(found?.metadata).toBe(value.metadata);
    await store.delete(value.sessionId);
  });
});
