import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newSessionId, type SessionRecord } from '../session.js';
import { sessionRecord as record } from '../testing/records.js';
import type { Store } from './store.js';

/** Options of `describeStoreConformance`. */
export interface StoreConformanceOptions {
  /** Runs after each test, before `store.close()` (for example to delete keys). */
  cleanup?: (store: Store) => Promise<void>;
}

/** Idle time after which an unpinned session expires in these tests, in ms. */
const TIMEOUT_MS = 60_000;

/**
 * The rules of `Store` (see `store.ts`) as tests that run unchanged against
 * every implementation. Each test gets a fresh store from `createStore`,
 * configured with a one-minute timeout, and closes it afterwards.
 *
 * Time is passed explicitly as `now`. It starts at the real clock (so that a
 * store using TTLs of the backing service sees sensible values) and moves
 * forwards only, as the manager's clock does. Ids and user ids are random, so
 * stores sharing a backing service do not see each other's records.
 *
 * @example
 * describeStoreConformance('MemoryStore', () => new MemoryStore());
 */
export function describeStoreConformance(
  name: string,
  createStore: () => Promise<Store> | Store,
  options: StoreConformanceOptions = {},
): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let t0: number;

    beforeEach(async () => {
      store = await createStore();
      store.configure({ sessionTimeoutMs: TIMEOUT_MS });
      t0 = Date.now();
    });

    afterEach(async () => {
      await options.cleanup?.(store);
      await store.close();
    });

    async function created(
      at: number,
      fields: Partial<SessionRecord> = {},
    ): Promise<SessionRecord> {
      const value = record(at, fields);
      await store.create(value);
      return value;
    }

    /** Plain copy of what the store holds now (stores own their records). */
    async function snapshot(sessionId: string, now: number) {
      const found = await store.get(sessionId, now);
      return found && { ...found, activeRequests: [...found.activeRequests].sort() };
    }

    it('has a name', () => {
      expect(typeof store.name).toBe('string');
      expect(store.name.length).toBeGreaterThan(0);
    });

    describe('create and get', () => {
      it('returns every field of a created session', async () => {
        const value = await created(t0, {
          userId: `user-${randomUUID()}`,
          conversationId: 'conversation-1',
          metadata: '{"plan":"pro","tags":["a","b"]}',
        });
        expect(await snapshot(value.sessionId, t0)).toEqual(value);
      });

      it('keeps absent optional fields absent', async () => {
        const value = await created(t0);
        const found = await store.get(value.sessionId, t0);
        expect(found?.userId).toBeUndefined();
        expect(found?.conversationId).toBeUndefined();
        expect(found?.connectionCount).toBe(0);
        expect(found?.activeRequests).toEqual([]);
      });

      it('round-trips metadata text exactly', async () => {
        const metadata = JSON.stringify({
          text: 'héllo wörld ✓ 日本語 "quoted" \\ back\nslash',
          nested: { list: [1, 2.5, -3, null, true, { deep: 'x' }] },
          empty: {},
        });
        const value = await created(t0, { metadata });
        expect((await store.get(value.sessionId, t0))?.metadata).toBe(metadata);
      });

      it('answers undefined for an unknown id', async () => {
        expect(await store.get(randomUUID(), t0)).toBeUndefined();
      });

      it('keeps sessions apart', async () => {
        const a = await created(t0, { metadata: '{"n":1}' });
        const b = await created(t0, { metadata: '{"n":2}' });
        await store.addRequest(a.sessionId, 'r-a', t0 + 10);
        await store.addConnection(a.sessionId, t0 + 10);
        await store.delete(a.sessionId);
        expect(await snapshot(b.sessionId, t0 + 10)).toEqual(b);
      });
    });

    describe('touch', () => {
      it('moves lastActivity to now and returns the session', async () => {
        const value = await created(t0);
        const touched = await store.touch(value.sessionId, t0 + 500);
        expect(touched?.sessionId).toBe(value.sessionId);
        expect(touched?.lastActivity).toBe(t0 + 500);
        expect((await store.get(value.sessionId, t0 + 500))?.lastActivity).toBe(t0 + 500);
        expect((await store.get(value.sessionId, t0 + 500))?.createdAt).toBe(t0);
      });

      it('extends the life of a session by a full timeout', async () => {
        const value = await created(t0);
        await store.touch(value.sessionId, t0 + 30_000);
        expect(await store.get(value.sessionId, t0 + TIMEOUT_MS + 1)).toBeDefined();
        expect(await store.get(value.sessionId, t0 + 30_000 + TIMEOUT_MS)).toBeDefined();
        expect(await store.get(value.sessionId, t0 + 30_000 + TIMEOUT_MS + 1)).toBeUndefined();
      });

      it('answers undefined for an unknown id and creates nothing', async () => {
        const before = await store.count();
        expect(await store.touch(randomUUID(), t0)).toBeUndefined();
        expect(await store.count()).toBe(before);
      });
    });

    describe('expiry', () => {
      it('expires a session idle for longer than the timeout, not at the timeout', async () => {
        const value = await created(t0);
        expect(await store.get(value.sessionId, t0 + TIMEOUT_MS)).toBeDefined();
        expect(await store.get(value.sessionId, t0 + TIMEOUT_MS + 1)).toBeUndefined();
      });

      it('hides an expired session from every read and write', async () => {
        const userId = `user-${randomUUID()}`;
        const value = await created(t0, { userId });
        const late = t0 + TIMEOUT_MS + 1;
        expect(await store.get(value.sessionId, late)).toBeUndefined();
        expect(await store.touch(value.sessionId, late)).toBeUndefined();
        expect(await store.addRequest(value.sessionId, 'r1', late)).toBeUndefined();
        expect(await store.addConnection(value.sessionId, late)).toBeUndefined();
        expect(await store.listByUser(userId, late)).toEqual([]);
        // None of the writes above brought it back.
        expect(await store.get(value.sessionId, late)).toBeUndefined();
        expect(await store.get(value.sessionId, late + 1)).toBeUndefined();
      });

      it('never expires a session with a request in flight', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0 + 1);
        const muchLater = t0 + 10 * TIMEOUT_MS;
        expect(await store.get(value.sessionId, muchLater)).toBeDefined();
        expect(await store.sweep(muchLater)).toEqual([]);
        expect(await store.touch(value.sessionId, muchLater)).toBeDefined();
      });

      it('never expires a session with an open connection', async () => {
        const value = await created(t0);
        await store.addConnection(value.sessionId, t0 + 1);
        const muchLater = t0 + 10 * TIMEOUT_MS;
        expect(await store.sweep(muchLater)).toEqual([]);
        expect((await store.get(value.sessionId, muchLater))?.connectionCount).toBe(1);
      });

      it('counts idle time from the end of the last request', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0 + 1);
        const end = t0 + 5 * TIMEOUT_MS;
        await store.removeRequest(value.sessionId, 'r1', end);
        expect((await store.get(value.sessionId, end + TIMEOUT_MS))?.lastActivity).toBe(end);
        expect(await store.sweep(end + TIMEOUT_MS)).toEqual([]);
        const swept = await store.sweep(end + TIMEOUT_MS + 1);
        expect(swept.map((r) => r.sessionId)).toEqual([value.sessionId]);
      });

      it('counts idle time from the close of the last connection', async () => {
        const value = await created(t0);
        await store.addConnection(value.sessionId, t0 + 1);
        const end = t0 + 5 * TIMEOUT_MS;
        await store.removeConnection(value.sessionId, end);
        expect(await store.get(value.sessionId, end + TIMEOUT_MS)).toBeDefined();
        expect(await store.get(value.sessionId, end + TIMEOUT_MS + 1)).toBeUndefined();
      });
    });

    describe('sweep', () => {
      it('removes and returns exactly the expired sessions', async () => {
        const pinned = await created(t0);
        await store.addRequest(pinned.sessionId, 'r1', t0);
        const old = [await created(t0), await created(t0 + 100), await created(t0 + 200)];
        const fresh = [await created(t0 + 300), await created(t0 + 400)];
        const now = t0 + 300 + TIMEOUT_MS; // fresh[0] is exactly at the limit
        const swept = await store.sweep(now);
        expect(swept.map((r) => r.sessionId).sort()).toEqual(old.map((r) => r.sessionId).sort());
        for (const r of old) expect(await store.get(r.sessionId, t0 + 300)).toBeUndefined();
        for (const r of fresh) expect(await snapshot(r.sessionId, now)).toEqual(r);
        expect(await store.get(pinned.sessionId, now)).toBeDefined();
      });

      it('returns the removed records with their fields', async () => {
        const userId = `user-${randomUUID()}`;
        const value = await created(t0, { userId, metadata: '{"k":"v"}' });
        const [swept, ...rest] = await store.sweep(t0 + TIMEOUT_MS + 1);
        expect(rest).toEqual([]);
        expect(swept?.sessionId).toBe(value.sessionId);
        expect(swept?.userId).toBe(userId);
      });

      it('leaves fresh sessions and finds nothing twice', async () => {
        const a = await created(t0);
        const b = await created(t0 + 10);
        expect(await store.sweep(t0 + TIMEOUT_MS)).toEqual([]);
        expect(await store.count()).toBeGreaterThanOrEqual(2);
        const first = await store.sweep(t0 + TIMEOUT_MS + 11);
        expect(first.map((r) => r.sessionId).sort()).toEqual([a.sessionId, b.sessionId].sort());
        expect(await store.sweep(t0 + TIMEOUT_MS + 12)).toEqual([]);
      });

      it('honours touches when choosing what to remove', async () => {
        const a = await created(t0);
        const b = await created(t0 + 10);
        await store.touch(a.sessionId, t0 + 1000);
        const swept = await store.sweep(t0 + 10 + TIMEOUT_MS + 1);
        expect(swept.map((r) => r.sessionId)).toEqual([b.sessionId]);
        expect(await store.get(a.sessionId, t0 + 10 + TIMEOUT_MS + 1)).toBeDefined();
      });

      it('lowers the count by what it removed', async () => {
        const before = await store.count();
        await created(t0);
        await created(t0);
        await created(t0 + 5000);
        expect(await store.count()).toBe(before + 3);
        const swept = await store.sweep(t0 + TIMEOUT_MS + 1);
        expect(swept).toHaveLength(2);
        expect(await store.count()).toBe(before + 1);
      });
    });

    describe('delete', () => {
      it('removes at once and returns the removed record', async () => {
        const value = await created(t0, { metadata: '{"a":1}' });
        const removed = await store.delete(value.sessionId);
        expect(removed?.sessionId).toBe(value.sessionId);
        expect(removed?.metadata).toBe('{"a":1}');
        expect(await store.get(value.sessionId, t0)).toBeUndefined();
        expect(await store.touch(value.sessionId, t0)).toBeUndefined();
      });

      it('is idempotent', async () => {
        const value = await created(t0);
        expect(await store.delete(value.sessionId)).toBeDefined();
        expect(await store.delete(value.sessionId)).toBeUndefined();
        expect(await store.delete(randomUUID())).toBeUndefined();
      });

      it('removes a pinned session too, and sweep never returns it', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0);
        await store.addConnection(value.sessionId, t0);
        expect(await store.delete(value.sessionId)).toBeDefined();
        expect(await store.get(value.sessionId, t0)).toBeUndefined();
        expect(await store.sweep(t0 + 10 * TIMEOUT_MS)).toEqual([]);
      });

      it('is not undone by a request or connection that ends afterwards', async () => {
        const before = await store.count();
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0);
        await store.addConnection(value.sessionId, t0);
        await store.delete(value.sessionId);
        await store.removeRequest(value.sessionId, 'r1', t0 + 1);
        await store.removeConnection(value.sessionId, t0 + 1);
        expect(await store.get(value.sessionId, t0 + 1)).toBeUndefined();
        expect(await store.count()).toBe(before);
        expect(await store.sweep(t0 + 10 * TIMEOUT_MS)).toEqual([]);
      });
    });

    describe('rotate', () => {
      it('moves user, conversation and metadata to the new id; the old id is gone at once', async () => {
        const value = await created(t0, {
          userId: 'u-rot',
          conversationId: 'c1',
          metadata: '{"cart":[1,2]}',
        });
        const newId = newSessionId(value.sessionId);
        const rotated = await store.rotate(value.sessionId, newId, t0 + 5);
        expect(rotated).toMatchObject({
          sessionId: newId,
          userId: 'u-rot',
          conversationId: 'c1',
          metadata: '{"cart":[1,2]}',
          createdAt: t0 + 5,
          lastActivity: t0 + 5,
          connectionCount: 0,
        });
        expect(rotated?.activeRequests).toEqual([]);
        expect(await store.get(value.sessionId, t0 + 5)).toBeUndefined();
        expect(await store.touch(value.sessionId, t0 + 5)).toBeUndefined();
        expect(await snapshot(newId, t0 + 5)).toMatchObject({ sessionId: newId, userId: 'u-rot' });
        const ids = (await store.listByUser('u-rot', t0 + 5)).map((r) => r.sessionId);
        expect(ids).toEqual([newId]);
      });

      it('gives the new session the user who logged in, when asked, moving it between users', async () => {
        const anonymous = await created(t0);
        const newId = newSessionId(anonymous.sessionId);
        expect(
          await store.rotate(anonymous.sessionId, newId, t0 + 1, { userId: 'u-login' }),
        ).toMatchObject({
          sessionId: newId,
          userId: 'u-login',
        });
        expect((await store.listByUser('u-login', t0 + 1)).map((r) => r.sessionId)).toEqual([
          newId,
        ]);
        const other = newSessionId(newId);
        await store.rotate(newId, other, t0 + 2, { userId: 'u-next' });
        expect(await store.listByUser('u-login', t0 + 2)).toEqual([]);
        expect((await store.listByUser('u-next', t0 + 2)).map((r) => r.sessionId)).toEqual([other]);
      });

      it('answers undefined for an unknown or expired session and creates nothing', async () => {
        const before = await store.count();
        const unknown = randomUUID();
        expect(await store.rotate(unknown, newSessionId(unknown), t0)).toBeUndefined();
        const stale = await created(t0);
        const newId = newSessionId(stale.sessionId);
        expect(await store.rotate(stale.sessionId, newId, t0 + TIMEOUT_MS + 1)).toBeUndefined();
        expect(await store.get(newId, t0 + TIMEOUT_MS + 1)).toBeUndefined();
        expect(await store.count()).toBe(before + 1);
      });

      it('leaves the new session unpinned and expiring, and old requests and connections cannot pin it', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0);
        await store.addConnection(value.sessionId, t0);
        const newId = newSessionId(value.sessionId);
        await store.rotate(value.sessionId, newId, t0 + 1);
        await store.removeRequest(value.sessionId, 'r1', t0 + 2);
        await store.removeConnection(value.sessionId, t0 + 2);
        expect(await store.get(value.sessionId, t0 + 2)).toBeUndefined();
        const removed = (await store.sweep(t0 + 2 + TIMEOUT_MS + 1)).map((r) => r.sessionId);
        expect(removed).toContain(newId);
        expect(removed).not.toContain(value.sessionId);
      });

      it('keeps other sessions intact', async () => {
        const a = await created(t0, { userId: 'u-a' });
        const b = await created(t0, { userId: 'u-a' });
        await store.addRequest(b.sessionId, 'rb', t0);
        await store.rotate(a.sessionId, newSessionId(a.sessionId), t0 + 1);
        expect(await snapshot(b.sessionId, t0 + 1)).toMatchObject({ activeRequests: ['rb'] });
        expect(await store.listByUser('u-a', t0 + 1)).toHaveLength(2);
      });
    });

    describe('replaceMetadata', () => {
      it('replaces the metadata of the version given, raising it by one and touching', async () => {
        const value = await created(t0, { metadata: '{"a":1}' });
        const replaced = await store.replaceMetadata(value.sessionId, '{"a":2}', 1, t0 + 5);
        expect(replaced).toMatchObject({
          metadata: '{"a":2}',
          metadataVersion: 2,
          lastActivity: t0 + 5,
        });
        expect(await snapshot(value.sessionId, t0 + 5)).toMatchObject({
          metadata: '{"a":2}',
          metadataVersion: 2,
        });
      });

      it('answers conflict for another version and changes nothing', async () => {
        const value = await created(t0, { metadata: '{"a":1}' });
        expect(await store.replaceMetadata(value.sessionId, '{"a":3}', 2, t0 + 1)).toBe('conflict');
        expect(await snapshot(value.sessionId, t0 + 1)).toMatchObject({
          metadata: '{"a":1}',
          metadataVersion: 1,
          lastActivity: t0,
        });
      });

      it('answers undefined for an unknown or expired session', async () => {
        expect(await store.replaceMetadata(randomUUID(), '{}', 1, t0)).toBeUndefined();
        const stale = await created(t0);
        expect(
          await store.replaceMetadata(stale.sessionId, '{"a":1}', 1, t0 + TIMEOUT_MS + 1),
        ).toBeUndefined();
      });

      it('keeps the version through a rotation', async () => {
        const value = await created(t0);
        await store.replaceMetadata(value.sessionId, '{"b":1}', 1, t0 + 1);
        const newId = newSessionId(value.sessionId);
        expect(await store.rotate(value.sessionId, newId, t0 + 2)).toMatchObject({
          metadata: '{"b":1}',
          metadataVersion: 2,
        });
      });
    });

    describe('requests in flight', () => {
      it('counts each session’s requests per fixed window when asked to, and not otherwise', async () => {
        const value = await created(t0);
        const other = await created(t0);
        const uncounted = await store.addRequest(value.sessionId, 'u', t0 + 1);
        expect(uncounted?.requestsInWindow).toBeUndefined();
        const windowMs = 60_000;
        store.configure({ sessionTimeoutMs: TIMEOUT_MS, requestWindowMs: windowMs });
        const base = Math.ceil((t0 + 2) / windowMs) * windowMs; // the start of a window
        const counts: [number | undefined, number | undefined][] = [];
        for (const [id, at] of [
          [value.sessionId, base],
          [value.sessionId, base + 1],
          [other.sessionId, base + 2],
          [value.sessionId, base + windowMs - 1],
          [value.sessionId, base + windowMs],
        ] as const) {
          const added = await store.addRequest(id, `r${at}`, at);
          counts.push([added?.requestWindow, added?.requestsInWindow]);
        }
        const window = base / windowMs;
        expect(counts).toEqual([
          [window, 1],
          [window, 2],
          [window, 1],
          [window, 3],
          [window + 1, 1],
        ]);
      });

      it('keeps the exact list of request ids', async () => {
        const value = await created(t0);
        const added = await store.addRequest(value.sessionId, 'r1', t0 + 1);
        expect(added?.activeRequests).toEqual(['r1']);
        expect(added?.lastActivity).toBe(t0 + 1);
        await store.addRequest(value.sessionId, 'r2', t0 + 2);
        await store.addRequest(value.sessionId, 'r3', t0 + 3);
        expect((await snapshot(value.sessionId, t0 + 3))?.activeRequests).toEqual([
          'r1',
          'r2',
          'r3',
        ]);
        await store.removeRequest(value.sessionId, 'r2', t0 + 4);
        const after = await snapshot(value.sessionId, t0 + 4);
        expect(after?.activeRequests).toEqual(['r1', 'r3']);
        expect(after?.lastActivity).toBe(t0 + 4);
        await store.removeRequest(value.sessionId, 'r1', t0 + 5);
        await store.removeRequest(value.sessionId, 'r3', t0 + 5);
        expect((await snapshot(value.sessionId, t0 + 5))?.activeRequests).toEqual([]);
      });

      it('ignores removing a request it does not hold', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0);
        await store.removeRequest(value.sessionId, 'unknown', t0 + 1);
        await store.removeRequest(randomUUID(), 'r1', t0 + 1);
        expect((await snapshot(value.sessionId, t0 + 1))?.activeRequests).toEqual(['r1']);
      });

      it('answers undefined when adding to an unknown session, and creates nothing', async () => {
        const id = randomUUID();
        expect(await store.addRequest(id, 'r1', t0)).toBeUndefined();
        expect(await store.get(id, t0)).toBeUndefined();
      });

      it('keeps counts exact under many concurrent adds and removes', async () => {
        const value = await created(t0);
        const ids = Array.from({ length: 200 }, (_, i) => `r${i}`);
        await Promise.all(ids.map((id) => store.addRequest(value.sessionId, id, t0 + 1)));
        expect((await snapshot(value.sessionId, t0 + 10))?.activeRequests).toEqual([...ids].sort());
        const removed = ids.filter((_, i) => i % 3 !== 0);
        const more = Array.from({ length: 50 }, (_, i) => `s${i}`);
        await Promise.all([
          ...removed.map((id) => store.removeRequest(value.sessionId, id, t0 + 20)),
          ...more.map((id) => store.addRequest(value.sessionId, id, t0 + 20)),
        ]);
        const expected = [...ids.filter((_, i) => i % 3 === 0), ...more].sort();
        expect((await snapshot(value.sessionId, t0 + 20))?.activeRequests).toEqual(expected);
        await Promise.all(expected.map((id) => store.removeRequest(value.sessionId, id, t0 + 30)));
        expect((await snapshot(value.sessionId, t0 + 30))?.activeRequests).toEqual([]);
      });
    });

    describe('connections', () => {
      it('counts open connections exactly and touches', async () => {
        const value = await created(t0);
        expect((await store.addConnection(value.sessionId, t0 + 1))?.connectionCount).toBe(1);
        await store.addConnection(value.sessionId, t0 + 2);
        await store.addConnection(value.sessionId, t0 + 3);
        await store.removeConnection(value.sessionId, t0 + 4);
        const found = await store.get(value.sessionId, t0 + 4);
        expect(found?.connectionCount).toBe(2);
        expect(found?.lastActivity).toBe(t0 + 4);
      });

      it('never goes below zero', async () => {
        const value = await created(t0);
        await store.addConnection(value.sessionId, t0);
        for (let i = 0; i < 4; i += 1) await store.removeConnection(value.sessionId, t0 + 1);
        expect((await store.get(value.sessionId, t0 + 1))?.connectionCount).toBe(0);
        expect((await store.addConnection(value.sessionId, t0 + 2))?.connectionCount).toBe(1);
      });

      it('answers undefined for an unknown session', async () => {
        expect(await store.addConnection(randomUUID(), t0)).toBeUndefined();
      });

      it('stays exact under concurrent opens and closes', async () => {
        const value = await created(t0);
        await Promise.all(
          Array.from({ length: 100 }, () => store.addConnection(value.sessionId, t0 + 1)),
        );
        expect((await store.get(value.sessionId, t0 + 1))?.connectionCount).toBe(100);
        await Promise.all([
          ...Array.from({ length: 70 }, () => store.removeConnection(value.sessionId, t0 + 2)),
          ...Array.from({ length: 20 }, () => store.addConnection(value.sessionId, t0 + 2)),
        ]);
        expect((await store.get(value.sessionId, t0 + 2))?.connectionCount).toBe(50);
      });
    });

    describe('listByUser', () => {
      it('lists live sessions of the user, most recently active first', async () => {
        const userId = `user-${randomUUID()}`;
        const a = await created(t0, { userId });
        const b = await created(t0 + 10, { userId });
        const c = await created(t0 + 20, { userId });
        await created(t0 + 30, { userId: `other-${randomUUID()}` });
        await created(t0 + 30);
        await store.touch(a.sessionId, t0 + 40);
        const listed = await store.listByUser(userId, t0 + 40);
        expect(listed.map((r) => r.sessionId)).toEqual([a.sessionId, c.sessionId, b.sessionId]);
      });

      it('leaves out expired and deleted sessions', async () => {
        const userId = `user-${randomUUID()}`;
        await created(t0, { userId }); // expired by the time of the listing
        const deleted = await created(t0 + 1000, { userId });
        const live = await created(t0 + 2000, { userId });
        await store.delete(deleted.sessionId);
        const listed = await store.listByUser(userId, t0 + 1000 + TIMEOUT_MS);
        expect(listed.map((r) => r.sessionId)).toEqual([live.sessionId]);
      });

      it('answers an empty list for an unknown user', async () => {
        expect(await store.listByUser(`user-${randomUUID()}`, t0)).toEqual([]);
      });
    });

    describe('list', () => {
      it('lists up to `limit` live sessions of all users, pinned ones included, most recent first', async () => {
        const list = store.list?.bind(store);
        expect(list).toBeDefined();
        if (list === undefined) return;
        const expired = await created(t0);
        const pinned = await created(t0 + 10);
        await store.addConnection(pinned.sessionId, t0 + 10);
        const idle = await created(t0 + 20, { userId: `user-${randomUUID()}` });
        const newest = await created(t0 + 30);
        const deleted = await created(t0 + 40);
        await store.delete(deleted.sessionId);
        const later = t0 + 15 + TIMEOUT_MS;
        expect(
          (await list(10, later)).map((r) => [r.sessionId, r.connectionCount, r.userId]),
        ).toEqual([
          [newest.sessionId, 0, undefined],
          [idle.sessionId, 0, idle.userId],
          [pinned.sessionId, 1, undefined],
        ]);
        expect((await list(2, later)).map((r) => r.sessionId)).toEqual([
          newest.sessionId,
          idle.sessionId,
        ]);
        expect(await list(0, later)).toEqual([]);
        expect((await list(10, later)).map((r) => r.sessionId)).not.toContain(expired.sessionId);
      });
    });

    describe('idempotency keys', () => {
      const FP = 'a'.repeat(64);

      it('claims a new key once, then answers it pending, then done with its outcome', async () => {
        const { sessionId } = await created(t0);
        expect(await store.claimIdempotencyKey(sessionId, 'k1', FP, t0)).toEqual({ state: 'new' });
        expect(await store.claimIdempotencyKey(sessionId, 'k1', 'other', t0 + 1)).toEqual({
          state: 'pending',
          fingerprint: FP,
        });
        const outcome = '{"ok":{"json":{"n":1,"text":"héllo\\n✓"}}}\nsecond line';
        await store.completeIdempotencyKey(sessionId, 'k1', outcome, t0 + 2);
        expect(await store.claimIdempotencyKey(sessionId, 'k1', FP, t0 + 3)).toEqual({
          state: 'done',
          fingerprint: FP,
          outcome,
        });
      });

      it('keeps keys of different sessions and different keys apart', async () => {
        const a = await created(t0);
        const b = await created(t0);
        await store.claimIdempotencyKey(a.sessionId, 'same', FP, t0);
        await store.completeIdempotencyKey(a.sessionId, 'same', 'A', t0);
        expect(await store.claimIdempotencyKey(b.sessionId, 'same', FP, t0)).toEqual({
          state: 'new',
        });
        expect(await store.claimIdempotencyKey(a.sessionId, 'other', FP, t0)).toEqual({
          state: 'new',
        });
      });

      it('forgets a released claim, so the call runs afresh; a done record stays', async () => {
        const { sessionId } = await created(t0);
        await store.claimIdempotencyKey(sessionId, 'k', FP, t0);
        await store.releaseIdempotencyKey(sessionId, 'k');
        expect(await store.claimIdempotencyKey(sessionId, 'k', FP, t0)).toEqual({ state: 'new' });
        await store.completeIdempotencyKey(sessionId, 'k', 'out', t0);
        await store.releaseIdempotencyKey(sessionId, 'k');
        expect((await store.claimIdempotencyKey(sessionId, 'k', FP, t0)).state).toBe('done');
      });

      it('records nothing for an absent, expired or deleted session', async () => {
        const unknown = randomUUID();
        expect(await store.claimIdempotencyKey(unknown, 'k', FP, t0)).toEqual({ state: 'new' });
        expect(await store.claimIdempotencyKey(unknown, 'k', FP, t0)).toEqual({ state: 'new' });
        await store.completeIdempotencyKey(unknown, 'k', 'out', t0);
        expect(await store.claimIdempotencyKey(unknown, 'k', FP, t0)).toEqual({ state: 'new' });

        const idle = await created(t0);
        const late = t0 + TIMEOUT_MS + 1;
        expect(await store.claimIdempotencyKey(idle.sessionId, 'k', FP, late)).toEqual({
          state: 'new',
        });

        const ended = await created(t0);
        await store.claimIdempotencyKey(ended.sessionId, 'k', FP, t0);
        await store.completeIdempotencyKey(ended.sessionId, 'k', 'out', t0);
        await store.delete(ended.sessionId);
        expect(await store.claimIdempotencyKey(ended.sessionId, 'k', FP, t0)).toEqual({
          state: 'new',
        });
      });

      it('lets a record expire after idempotencyWindowMs', async () => {
        // Memory stores count by `now`, Redis by its own clock (PX): the
        // window is 50 ms, and both have seen far more when asked again.
        store.configure({ sessionTimeoutMs: TIMEOUT_MS, idempotencyWindowMs: 50 });
        const { sessionId } = await created(t0);
        await store.claimIdempotencyKey(sessionId, 'pending', FP, t0);
        await store.claimIdempotencyKey(sessionId, 'done', FP, t0);
        await store.completeIdempotencyKey(sessionId, 'done', 'out', t0);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const later = t0 + 5_000;
        await store.touch(sessionId, later);
        expect(await store.claimIdempotencyKey(sessionId, 'pending', FP, later)).toEqual({
          state: 'new',
        });
        expect(await store.claimIdempotencyKey(sessionId, 'done', FP, later)).toEqual({
          state: 'new',
        });
      });
    });

    describe('count, ping and close', () => {
      it('counts stored sessions', async () => {
        const before = await store.count();
        const a = await created(t0);
        await created(t0);
        expect(await store.count()).toBe(before + 2);
        await store.delete(a.sessionId);
        expect(await store.count()).toBe(before + 1);
      });

      it('answers ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });
  });
}
