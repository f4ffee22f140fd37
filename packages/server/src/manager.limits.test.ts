// Caps on what one user and one store may hold, on both stores.
import { randomBytes } from 'node:crypto';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CapacityError } from './errors.js';
import { type SessionEndedEvent, SessionManager, type SessionManagerOptions } from './manager.js';
import { RedisStore } from './redis/redis-store.js';
import { MemoryStore } from './store/memory.js';

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

const stores = {
  MemoryStore: () => new MemoryStore(),
  RedisStore: () =>
    new RedisStore({
      url: redis.url,
      keyPrefix: `${redis.keyPrefix}${randomBytes(4).toString('hex')}:`,
    }),
};

describe.each(Object.entries(stores))('session caps on %s', (_name, makeStore) => {
  function manager(options: SessionManagerOptions, clock?: () => number) {
    const created = new SessionManager({
      store: makeStore(),
      ...options,
      ...(clock && { now: clock }),
    }).start();
    managers.push(created);
    return created;
  }

  it('a user at maxSessionsPerUser: one more ends the least recently active, others untouched', async () => {
    let now = 1_700_000_000_000;
    const m = manager({ maxSessionsPerUser: 3 }, () => now);
    const sessions = [];
    for (let i = 0; i < 3; i += 1) {
      now += 1_000;
      sessions.push(await m.createSession({ userId: 'cap' }));
    }
    const other = await m.createSession({ userId: 'someone-else' });
    now += 1_000;
    await m.touch(sessions[0]?.sessionId ?? ''); // now the second is the least recently active
    const ended: SessionEndedEvent[] = [];
    m.on('deleted', (event) => ended.push(event));
    now += 1_000;
    const fourth = await m.createSession({ userId: 'cap' });
    const left = (await m.listSessionsByUser('cap')).map((s) => s.sessionId).sort();
    expect(left).toEqual([sessions[0]?.sessionId, sessions[2]?.sessionId, fourth.sessionId].sort());
    expect(ended.map((event) => event.sessionId)).toEqual([sessions[1]?.sessionId]);
    expect(await m.getSession(other.sessionId)).toBeDefined();
  });

  it('a full store answers 503 SERVER_AT_CAPACITY, and takes sessions again once some expire', async () => {
    let now = 1_700_000_000_000;
    const m = manager({ maxSessions: 3, sessionTimeoutMs: 60_000 }, () => now);
    await Promise.all([1, 2, 3].map(() => m.createSession()));
    await expect(m.createSession()).rejects.toBeInstanceOf(CapacityError);
    await expect(m.createSession()).rejects.toMatchObject({
      code: 'SERVER_AT_CAPACITY',
      message: expect.stringContaining('full'),
    });
    expect(await m.getActiveSessionCount()).toBe(3);
    now += 61_000;
    await expect(m.createSession()).resolves.toMatchObject({ sessionId: expect.any(String) });
  });
});
