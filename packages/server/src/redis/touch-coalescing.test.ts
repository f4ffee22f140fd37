import { randomBytes } from 'node:crypto';
import { deleteKeys, type RedisTestServer, startRedis } from '@morgan/test-support';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sessionRecord as record } from '../conformance/records.js';
import { CommandMonitor } from '../testing/command-monitor.js';
import { KeyLayout } from './key-layout.js';
import { RedisStore } from './redis-store.js';

const TIMEOUT_MS = 60_000;
const RESOLUTION_MS = 1_000;

let redis: RedisTestServer;
let monitor: CommandMonitor;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedis();
  monitor = await CommandMonitor.open(redis.url);
  admin = new Redis(redis.url);
});
afterAll(async () => {
  await monitor?.close();
  await admin?.quit();
  await redis?.stop();
});

describe('RedisStore touch coalescing', () => {
  let keyPrefix: string;
  let store: RedisStore;
  let other: RedisStore;

  beforeEach(async () => {
    keyPrefix = `${redis.keyPrefix}${randomBytes(4).toString('hex')}:`;
    store = new RedisStore({ url: redis.url, keyPrefix, touchResolutionMs: RESOLUTION_MS });
    other = new RedisStore({ url: redis.url, keyPrefix });
    for (const s of [store, other]) s.configure({ sessionTimeoutMs: TIMEOUT_MS });
    // Load every script once, so each later call is one EVALSHA.
    const warm = record(Date.now());
    await store.create(warm);
    await store.touch(warm.sessionId, warm.createdAt + RESOLUTION_MS);
    await store.delete(warm.sessionId);
    await other.delete(warm.sessionId);
  });
  afterEach(async () => {
    await store.close();
    await other.close();
    await deleteKeys(redis.url, keyPrefix);
  });

  const commandsOf = async (operation: () => Promise<unknown>) =>
    (await monitor.commandsOf(operation, { from: [store.client], keyPrefix })).map(
      (command) => command.name,
    );
  const storedActivity = async (sessionId: string) =>
    Number(await admin.hget(new KeyLayout(keyPrefix).session(sessionId), 'la'));

  it('answers a touch within the resolution with one HMGET and writes nothing', async () => {
    const t0 = Date.now();
    const value = record(t0 - 10 * RESOLUTION_MS);
    await store.create(value);
    expect(await commandsOf(() => store.touch(value.sessionId, t0))).toEqual(['evalsha']);
    expect(await storedActivity(value.sessionId)).toBe(t0);

    let touched: unknown;
    const commands = await commandsOf(async () => {
      touched = await store.touch(value.sessionId, t0 + RESOLUTION_MS - 1);
    });
    expect(commands).toEqual(['hmget']);
    // The record as Redis holds it: lastActivity of the touch that wrote.
    expect(touched).toMatchObject({ sessionId: value.sessionId, lastActivity: t0 });
    expect(await storedActivity(value.sessionId)).toBe(t0);
  });

  it('runs the script again once the resolution has passed', async () => {
    const t0 = Date.now();
    const value = record(t0);
    await store.create(value);
    expect(await commandsOf(() => store.touch(value.sessionId, t0 + 1))).toEqual(['hmget']);
    const later = t0 + RESOLUTION_MS;
    expect(await commandsOf(() => store.touch(value.sessionId, later))).toEqual(['evalsha']);
    expect(await storedActivity(value.sessionId)).toBe(later);
    expect(
      await admin.zscore(new KeyLayout(keyPrefix).shardOf(value.sessionId).idle, value.sessionId),
    ).toBe(String(later));
  });

  it('counts writes by requests and connections as recent', async () => {
    const t0 = Date.now();
    const value = record(t0 - 10 * RESOLUTION_MS);
    await store.create(value);
    await store.addRequest(value.sessionId, 'r1', t0);
    expect(await commandsOf(() => store.touch(value.sessionId, t0 + 1))).toEqual(['hmget']);
    await store.removeRequest(value.sessionId, 'r1', t0 + 2 * RESOLUTION_MS);
    expect(
      await commandsOf(() => store.touch(value.sessionId, t0 + 3 * RESOLUTION_MS - 1)),
    ).toEqual(['hmget']);
    await store.addConnection(value.sessionId, t0 + 4 * RESOLUTION_MS);
    expect(
      await commandsOf(() => store.touch(value.sessionId, t0 + 5 * RESOLUTION_MS - 1)),
    ).toEqual(['hmget']);
  });

  it('still hides a session that expired, without writing', async () => {
    store.configure({ sessionTimeoutMs: 100 });
    const t0 = Date.now();
    const value = record(t0);
    await store.create(value);
    let touched: unknown = 'not run';
    const commands = await commandsOf(async () => {
      touched = await store.touch(value.sessionId, t0 + 101);
    });
    expect(commands).toEqual(['hmget']);
    expect(touched).toBeUndefined();
    expect(await storedActivity(value.sessionId)).toBe(t0);
  });

  it('answers undefined for a touch after delete, on this node or another', async () => {
    const t0 = Date.now();
    const mine = record(t0);
    await store.create(mine);
    await store.delete(mine.sessionId);
    expect(await commandsOf(() => store.touch(mine.sessionId, t0 + 1))).toEqual(['evalsha']);
    expect(await store.touch(mine.sessionId, t0 + 2)).toBeUndefined();

    const theirs = record(t0);
    await store.create(theirs);
    await other.delete(theirs.sessionId);
    let touched: unknown = 'not run';
    const commands = await commandsOf(async () => {
      touched = await store.touch(theirs.sessionId, t0 + 1);
    });
    expect(commands).toEqual(['hmget']);
    expect(touched).toBeUndefined();
  });

  it('forgets what a sweep removed', async () => {
    store.configure({ sessionTimeoutMs: 100 });
    const t0 = Date.now();
    const value = record(t0);
    await store.create(value);
    expect((await store.sweep(t0 + 101)).map((swept) => swept.sessionId)).toEqual([
      value.sessionId,
    ]);
    let touched: unknown = 'not run';
    const commands = await commandsOf(async () => {
      touched = await store.touch(value.sessionId, t0 + 102);
    });
    expect(commands).toEqual(['evalsha']);
    expect(touched).toBeUndefined();
  });
});
