// Redis goes away and comes back: operations fail fast with a stable code,
// the store recovers by itself, and what Redis acknowledged is still there.
// Uses a private, persistent redis-server (never a shared REDIS_URL one).
import { randomUUID } from 'node:crypto';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, StoreUnavailableError } from '../errors.js';
import type { SessionRecord } from '../session.js';
import type { StoreEvent } from '../store/store.js';
import { RedisStore } from './redis-store.js';

const TIMEOUT_MS = 60_000;
const unavailable = { code: ErrorCode.STORE_UNAVAILABLE, name: 'StoreUnavailableError' };

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedis({ own: true, persistent: true });
});
afterAll(async () => {
  await redis?.stop();
});

function record(at: number): SessionRecord {
  return {
    sessionId: randomUUID(),
    userId: 'outage-user',
    conversationId: undefined,
    createdAt: at,
    lastActivity: at,
    metadata: '{"kept":true}',
    metadataVersion: 1,
    connectionCount: 0,
    activeRequests: [],
  };
}

function newStore(nodeId: string): RedisStore {
  const store = new RedisStore({
    url: redis.url,
    keyPrefix: redis.keyPrefix,
    nodeId,
    // 1 s: a reply a busy machine delays is not an outage (a paused server still times out).
    commandTimeoutMs: 1_000,
  });
  store.configure({ sessionTimeoutMs: TIMEOUT_MS });
  return store;
}

/** Retries `check` every 50 ms until it resolves (bounded by the test timeout). */
async function eventually(check: () => Promise<unknown>): Promise<void> {
  for (;;) {
    try {
      await check();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('RedisStore during a Redis outage', () => {
  it('rejects with STORE_UNAVAILABLE while Redis is stopped, then recovers by itself', async () => {
    const store = newStore('node-a');
    const other = newStore('node-b');
    const events: StoreEvent[] = [];
    store.subscribe((event) => events.push(event));
    await Promise.all([store.ready(), other.ready()]);
    const t0 = Date.now();
    const pinned = record(t0);
    const spare = record(t0);
    await store.create(pinned);
    await store.create(spare);
    await store.addRequest(pinned.sessionId, 'in-flight', t0 + 1);

    await redis.stopServer();
    const id = pinned.sessionId;
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.get(id, t0 + 2)).rejects.toMatchObject(unavailable);
    await expect(store.touch(id, t0 + 2)).rejects.toMatchObject(unavailable);
    await expect(store.addRequest(id, 'refused', t0 + 2)).rejects.toMatchObject(unavailable);
    await expect(store.removeRequest(id, 'in-flight', t0 + 2)).rejects.toMatchObject(unavailable);
    await expect(store.create(record(t0 + 2))).rejects.toMatchObject(unavailable);
    await expect(store.sweep(t0 + 2)).rejects.toMatchObject(unavailable);
    await expect(store.count()).rejects.toMatchObject(unavailable);
    await expect(store.ready()).rejects.toMatchObject(unavailable);

    await redis.startServer();
    await eventually(() => store.ping());
    // Everything acknowledged before the outage is there; nothing refused was applied.
    const found = await store.get(id, t0 + 3);
    expect(found?.activeRequests).toEqual(['in-flight']);
    expect(found?.metadata).toBe('{"kept":true}');
    expect(await store.count()).toBe(2);
    await store.removeRequest(id, 'in-flight', t0 + 3);
    expect((await store.get(id, t0 + 3))?.activeRequests).toEqual([]);

    // The events subscription is back too.
    await eventually(() => store.ready());
    await eventually(() => other.ping());
    await other.delete(spare.sessionId);
    await eventually(async () => {
      expect(events).toEqual([{ type: 'deleted', sessionId: spare.sessionId }]);
    });
    await Promise.all([store.close(), other.close()]);
  });

  it('times out instead of hanging when Redis stops answering', async () => {
    const store = newStore('node-c');
    await store.ready();
    const value = record(Date.now());
    await store.create(value);
    redis.pauseServer();
    try {
      await expect(store.get(value.sessionId, Date.now())).rejects.toMatchObject(unavailable);
      await expect(store.ping()).rejects.toMatchObject(unavailable);
    } finally {
      redis.resumeServer();
    }
    await eventually(() => store.ping());
    expect((await store.get(value.sessionId, Date.now()))?.sessionId).toBe(value.sessionId);
    await store.close();
  });

  it('fails the first call within the timeout when Redis is down from the start', async () => {
    await redis.stopServer();
    const store = newStore('node-d');
    try {
      await expect(store.get(randomUUID(), Date.now())).rejects.toMatchObject(unavailable);
    } finally {
      await redis.startServer();
    }
    await eventually(() => store.ping());
    await store.close();
  });

  it('lets the process exit: close() releases both connections', async () => {
    const store = newStore('node-e');
    store.subscribe(() => {});
    await store.ready();
    const handles = () =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
    const before = handles();
    await store.close();
    await eventually(async () => {
      expect(handles()).toBe(before - 2);
    });
    await expect(store.get(randomUUID(), Date.now())).rejects.toMatchObject(unavailable);
  });
});
