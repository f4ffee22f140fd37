// A Redis that is slow, not down: CLIENT PAUSE holds every command on a real
// redis-server for longer than the store's command timeout. The timed-out
// add still runs once Redis resumes; it must not leave a pin behind.
import { randomUUID } from 'node:crypto';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sessionRecord } from '../conformance/records.js';
import { StoreUnavailableError } from '../errors.js';
import type { SessionRecord } from '../session.js';
import { waitUntil } from '../ws/testing/ws-server.js';
import { KeyLayout } from './key-layout.js';
import { RedisStore } from './redis-store.js';

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedis({ own: true });
});
afterAll(async () => {
  await redis?.stop();
});

let store: RedisStore;
let admin: Redis;
let record: SessionRecord;
beforeEach(async () => {
  store = new RedisStore({ url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 200 });
  store.configure({ sessionTimeoutMs: 60_000 });
  admin = new Redis(redis.url);
  record = sessionRecord(Date.now());
  await store.create(record);
});
afterEach(async () => {
  admin.disconnect();
  await store.close();
});

/** Holds every command on Redis for longer than the store waits (200 ms). */
async function pauseRedis(): Promise<void> {
  await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
}

/** Waits until the stored session (read once Redis answers again) satisfies `check`. */
function untilStored(check: (stored: SessionRecord) => boolean): Promise<void> {
  return waitUntil(async () => {
    const stored = await store.get(record.sessionId, Date.now()).catch(() => undefined);
    return stored !== undefined && check(stored);
  }, 20_000);
}

describe('RedisStore on a slow Redis', () => {
  it('a request add that timed out is undone after Redis runs it: no pin is left', async () => {
    await pauseRedis();
    await expect(
      store.addRequest(record.sessionId, `req-${randomUUID()}`, Date.now()),
    ).rejects.toThrow(StoreUnavailableError);
    // Once Redis resumes it runs the add and then its undo.
    await untilStored((stored) => stored.activeRequests.length === 0);
    expect(
      await admin.sismember(
        new KeyLayout(redis.keyPrefix).shardOf(record.sessionId).pinned,
        record.sessionId,
      ),
    ).toBe(0);
  });

  it('a connection count that timed out is undone after Redis runs it', async () => {
    await store.addConnection(record.sessionId, Date.now());
    await pauseRedis();
    await expect(store.addConnection(record.sessionId, Date.now())).rejects.toThrow(
      StoreUnavailableError,
    );
    await untilStored((stored) => stored.connectionCount === 1);
    // The one real connection is still counted, and closes cleanly.
    await store.removeConnection(record.sessionId, Date.now());
    expect((await store.get(record.sessionId, Date.now()))?.connectionCount).toBe(0);
  });
});
