// A Redis that is slow, not down: CLIENT PAUSE holds every command on a real
// redis-server for longer than the store's command timeout. The timed-out
// add still runs once Redis resumes; it must not leave a pin behind.
import { randomUUID } from 'node:crypto';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import { sessionRecord } from '../testing/records.js';
import { waitUntil } from '../ws/testing/ws-server.js';
import { RedisStore } from './redis-store.js';

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedis({ own: true });
});
afterAll(async () => {
  await redis?.stop();
});

describe('RedisStore on a slow Redis', () => {
  it('a request add that timed out is undone after Redis runs it: no pin is left', async () => {
    const store = new RedisStore({
      url: redis.url,
      keyPrefix: redis.keyPrefix,
      commandTimeoutMs: 200,
    });
    store.configure({ sessionTimeoutMs: 60_000 });
    const admin = new Redis(redis.url);
    try {
      const now = Date.now();
      const record = sessionRecord(now);
      await store.create(record);
      await store.ping();
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      await expect(store.addRequest(record.sessionId, `req-${randomUUID()}`, now)).rejects.toThrow(
        StoreUnavailableError,
      );
      // Once Redis resumes it runs the add and then its undo.
      await waitUntil(async () => {
        const stored = await store.get(record.sessionId, Date.now()).catch(() => undefined);
        return stored !== undefined && stored.activeRequests.length === 0;
      }, 20_000);
      const pinned = await admin.sismember(`${redis.keyPrefix}pinned`, record.sessionId);
      expect(pinned).toBe(0);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('a connection count that timed out is undone after Redis runs it', async () => {
    const store = new RedisStore({
      url: redis.url,
      keyPrefix: redis.keyPrefix,
      commandTimeoutMs: 200,
    });
    store.configure({ sessionTimeoutMs: 60_000 });
    const admin = new Redis(redis.url);
    try {
      const now = Date.now();
      const record = sessionRecord(now);
      await store.create(record);
      await store.addConnection(record.sessionId, now);
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      await expect(store.addConnection(record.sessionId, now)).rejects.toThrow(
        StoreUnavailableError,
      );
      await waitUntil(async () => {
        const stored = await store.get(record.sessionId, Date.now()).catch(() => undefined);
        return stored?.connectionCount === 1;
      }, 20_000);
      // The one real connection is still counted, and closes cleanly.
      await store.removeConnection(record.sessionId, Date.now());
      expect((await store.get(record.sessionId, Date.now()))?.connectionCount).toBe(0);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });
});
