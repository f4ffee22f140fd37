// Several nodes on one Redis or one Redis Cluster: two RedisStores (or
// SessionManagers) with the same key prefix, as two server processes behind
// a load balancer would be. Run by redis-nodes.test.ts on one Redis and by
// cluster.test.ts on a real three-master cluster.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sessionRecord as record } from '../conformance/records.js';
import { type SessionEndedEvent, SessionManager, type SessionRotatedEvent } from '../manager.js';
import type { StoreEvent } from '../store/store.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';

const TIMEOUT_MS = 60_000;

/** Where the nodes connect, and a key prefix of their own for each test. */
export interface RedisNodesTarget {
  connection: Pick<RedisStoreOptions, 'url' | 'clusterNodes'>;
  keyPrefix: string;
}

/** Collects events until `count` have arrived. */
function collector() {
  const events: StoreEvent[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    events,
    listener(event: StoreEvent) {
      events.push(event);
      for (const waiter of waiters) if (events.length >= waiter.count) waiter.resolve();
    },
    until(count: number): Promise<void> {
      if (events.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
  };
}

/** Resolves with the first `count` deletions `manager` announces. */
function collectEnded(manager: SessionManager, count: number): Promise<SessionEndedEvent[]> {
  const events: SessionEndedEvent[] = [];
  return new Promise((resolve) => {
    const listener = (event: SessionEndedEvent) => {
      events.push(event);
      if (events.length < count) return;
      manager.off('deleted', listener);
      resolve(events);
    };
    manager.on('deleted', listener);
  });
}

/** The two-node tests, on the Redis `target()` names (read in each test's set-up). */
export function describeRedisNodes(name: string, target: () => RedisNodesTarget): void {
  describe(`two RedisStore nodes on ${name}`, () => {
    let a: RedisStore;
    let b: RedisStore;

    beforeEach(async () => {
      const { connection, keyPrefix } = target();
      a = new RedisStore({ ...connection, keyPrefix, nodeId: 'node-a' });
      b = new RedisStore({ ...connection, keyPrefix, nodeId: 'node-b' });
      for (const store of [a, b]) store.configure({ sessionTimeoutMs: TIMEOUT_MS });
    });
    afterEach(async () => {
      await Promise.all([a.close(), b.close()]);
    });

    it('see the same sessions and the same count', async () => {
      const t0 = Date.now();
      const userId = `user-${randomUUID()}`;
      const value = record(t0, { userId, metadata: '{"from":"a"}' });
      await a.create(value);
      expect(await b.get(value.sessionId, t0)).toEqual(value);
      await b.touch(value.sessionId, t0 + 5);
      expect((await a.get(value.sessionId, t0 + 5))?.lastActivity).toBe(t0 + 5);
      expect((await a.listByUser(userId, t0 + 5)).map((r) => r.sessionId)).toEqual([
        value.sessionId,
      ]);
      expect(await a.count()).toBe(1);
      expect(await b.count()).toBe(1);
    });

    it('keep request and connection counts exact under concurrent calls from both', async () => {
      const t0 = Date.now();
      const value = record(t0);
      await a.create(value);
      const id = value.sessionId;
      const requests = Array.from({ length: 150 }, (_, i) => `q${i}`);
      const nodeOf = (i: number) => (i % 2 === 0 ? a : b);
      await Promise.all([
        ...requests.map((request, i) => nodeOf(i).addRequest(id, request, t0 + 1)),
        ...Array.from({ length: 80 }, (_, i) => nodeOf(i + 1).addConnection(id, t0 + 1)),
      ]);
      const kept = requests.filter((_, i) => i % 5 === 0);
      await Promise.all([
        ...requests
          .filter((_, i) => i % 5 !== 0)
          .map((request, i) => nodeOf(i + 1).removeRequest(id, request, t0 + 2)),
        ...Array.from({ length: 50 }, (_, i) => nodeOf(i).removeConnection(id, t0 + 2)),
      ]);
      for (const store of [a, b]) {
        const found = await store.get(id, t0 + 2);
        expect([...(found?.activeRequests ?? [])].sort()).toEqual([...kept].sort());
        expect(found?.connectionCount).toBe(30);
      }
      await Promise.all([
        ...kept.map((request, i) => nodeOf(i).removeRequest(id, request, t0 + 3)),
        ...Array.from({ length: 30 }, (_, i) => nodeOf(i).removeConnection(id, t0 + 3)),
      ]);
      const idle = await b.get(id, t0 + 3);
      expect(idle?.activeRequests).toEqual([]);
      expect(idle?.connectionCount).toBe(0);
      // Unpinned again: it expires on schedule, whichever node sweeps.
      expect((await a.sweep(t0 + 3 + TIMEOUT_MS + 1)).map((r) => r.sessionId)).toEqual([id]);
      expect(await b.count()).toBe(0);
    });

    it('deliver deletions and expiries to the other node only', async () => {
      const onA = collector();
      const onB = collector();
      a.subscribe(onA.listener);
      b.subscribe(onB.listener);
      await Promise.all([a.ready(), b.ready()]);
      const t0 = Date.now();
      const deleted = record(t0);
      const expired = record(t0);
      await a.create(deleted);
      await a.create(expired);

      await b.delete(deleted.sessionId);
      await onA.until(1);
      expect(onA.events).toEqual([{ type: 'deleted', sessionId: deleted.sessionId }]);

      // A's sweep publishes after B's delete, on the same channel, so once B has
      // A's event it would already have had its own, had it been delivered.
      expect((await a.sweep(t0 + TIMEOUT_MS + 1)).map((r) => r.sessionId)).toEqual([
        expired.sessionId,
      ]);
      await onB.until(1);
      expect(onB.events).toEqual([{ type: 'expired', sessionId: expired.sessionId }]);
      expect(onA.events).toHaveLength(1);
    });

    it('stop delivering to a listener once unsubscribed', async () => {
      const first = collector();
      const second = collector();
      const unsubscribe = a.subscribe(first.listener);
      a.subscribe(second.listener);
      await a.ready();
      const t0 = Date.now();
      const one = record(t0);
      const two = record(t0);
      await b.create(one);
      await b.create(two);
      await b.delete(one.sessionId);
      await first.until(1);
      unsubscribe();
      await b.delete(two.sessionId);
      await second.until(2);
      expect(first.events.map((event) => event.sessionId)).toEqual([one.sessionId]);
      expect(second.events.map((event) => event.sessionId)).toEqual([one.sessionId, two.sessionId]);
    });
  });

  describe(`SessionManagers on two nodes on ${name}`, () => {
    let clock: number;
    let managerA: SessionManager;
    let managerB: SessionManager;
    let keyPrefix: string;

    function node(nodeId: string): SessionManager {
      const store = new RedisStore({ ...target().connection, keyPrefix, nodeId });
      return new SessionManager({ store, sessionTimeoutMs: TIMEOUT_MS, now: () => clock });
    }

    beforeEach(async () => {
      clock = Date.now();
      keyPrefix = target().keyPrefix;
      managerA = node('manager-a').start();
      managerB = node('manager-b').start();
      await Promise.all([managerA, managerB].map((m) => (m.store as RedisStore).ready()));
    });
    afterEach(async () => {
      await Promise.all([managerA.stop(), managerB.stop()]);
    });

    it('create on A, use on B, delete on A ends it on B as a remote deletion', async () => {
      const session = await managerA.createSession({ userId: 'ada', metadata: { plan: 'pro' } });
      const onB = await managerB.getSession(session.sessionId);
      expect(onB).toEqual(session);
      expect((await managerB.getSessionByUser('ada'))?.sessionId).toBe(session.sessionId);
      const reply = await managerB.trackRequest(session.sessionId, async (request) => {
        const seenOnA = await managerA.getSession(session.sessionId);
        return { seen: seenOnA?.activeRequests, mine: request.requestId };
      });
      expect(reply.seen).toEqual([reply.mine]);

      const remote = once(managerB, 'deleted') as Promise<[SessionEndedEvent]>;
      const local = once(managerA, 'deleted') as Promise<[SessionEndedEvent]>;
      expect(await managerA.deleteSession(session.sessionId)).toBe(true);
      expect((await local)[0]).toEqual({
        sessionId: session.sessionId,
        userId: 'ada',
        origin: 'local',
      });
      expect((await remote)[0]).toEqual({ sessionId: session.sessionId, origin: 'remote' });
      expect(await managerB.getSession(session.sessionId)).toBeUndefined();
    });

    it('an expiry swept on B is announced on A, and counts agree', async () => {
      const idle = await managerA.createSession();
      const busy = await managerA.createSession();
      await managerA.addConnection(busy.sessionId);
      expect(await managerB.getActiveSessionCount()).toBe(2);

      clock += TIMEOUT_MS + 1;
      const remote = once(managerA, 'expired') as Promise<[SessionEndedEvent]>;
      expect(await managerB.cleanup()).toBe(1);
      expect((await remote)[0]).toEqual({ sessionId: idle.sessionId, origin: 'remote' });
      expect(await managerA.getActiveSessionCount()).toBe(1);
      expect((await managerB.getSession(busy.sessionId))?.connectionCount).toBe(1);
    });

    it('a rotation on A is announced on B with the new id; the old id is gone on both', async () => {
      const session = await managerA.createSession({ userId: 'rosa', metadata: { cart: [1] } });
      const remote = once(managerB, 'rotated') as Promise<[SessionRotatedEvent]>;
      const rotated = await managerA.rotateSession(session.sessionId);
      expect((await remote)[0]).toEqual({
        sessionId: session.sessionId,
        newSessionId: rotated.sessionId,
        origin: 'remote',
      });
      expect(managerB.rotatedTo(session.sessionId)).toBe(rotated.sessionId);
      expect(await managerB.getSession(session.sessionId)).toBeUndefined();
      expect(await managerB.getSession(rotated.sessionId)).toMatchObject({
        userId: 'rosa',
        metadata: { cart: [1] },
      });
      await expect(managerB.rotateSession(session.sessionId)).rejects.toMatchObject({
        code: 'SESSION_NOT_FOUND',
      });
    });

    it('log out everywhere: deleteSessionsByUser on B ends the user’s sessions made on A and B', async () => {
      const onA = await managerA.createSession({ userId: 'lou' });
      const onB = await managerB.createSession({ userId: 'lou' });
      const kept = await managerA.createSession({ userId: 'other' });
      const remote = collectEnded(managerA, 2);
      expect(await managerB.deleteSessionsByUser('lou')).toBe(2);
      expect((await remote).map((event) => event.sessionId).sort()).toEqual(
        [onA.sessionId, onB.sessionId].sort(),
      );
      expect(await managerA.listSessionsByUser('lou')).toEqual([]);
      expect(await managerA.getSession(kept.sessionId)).toBeDefined();
    });

    it('sessions outlive a node: a new node on the same Redis resumes them', async () => {
      const session = await managerA.createSession({ conversationId: 'c-1' });
      await managerA.stop();
      managerA = node('manager-a-restarted').start();
      const resumed = await managerA.touch(session.sessionId);
      expect(resumed?.conversationId).toBe('c-1');
      expect(resumed?.createdAt).toEqual(session.createdAt);
    });
  });
}
