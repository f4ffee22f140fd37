import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { newSessionId, type SessionRecord } from '../session.js';
import type { StoreCore } from '../store/store.js';
import { matches, same } from './assert.js';
import {
  createdIn,
  eachStore,
  type StoreConformanceOptions,
  snapshotIn,
  TIMEOUT_MS,
} from './fixture.js';
import type { TestRunner } from './runner.js';

/**
 * The required core of `Store` (`StoreCore`) as tests: every store passes
 * them. Registered by `describeStoreConformance`.
 */
export function describeStoreCore(runner: TestRunner, options: StoreConformanceOptions): void {
  const { describe, test } = runner;
  describe('core', () => {
    let store: StoreCore;
    let t0: number;
    eachStore(runner, options, (current) => ({ store, t0 } = current));
    const created = (at: number, fields: Partial<SessionRecord> = {}) =>
      createdIn(store, at, fields);
    const snapshot = (sessionId: string, now: number) => snapshotIn(store, sessionId, now);

    test('has a name', () => {
      assert.equal(typeof store.name, 'string');
      assert.ok(store.name.length > 0);
    });

    describe('create and get', () => {
      test('returns every field of a created session', async () => {
        const value = await created(t0, {
          userId: `user-${randomUUID()}`,
          conversationId: 'conversation-1',
          metadata: '{"plan":"pro","tags":["a","b"]}',
        });
        same(await snapshot(value.sessionId, t0), value);
      });

      test('keeps absent optional fields absent', async () => {
        const value = await created(t0);
        const found = await store.get(value.sessionId, t0);
        assert.equal(found?.userId, undefined);
        assert.equal(found?.conversationId, undefined);
        assert.equal(found?.connectionCount, 0);
        same(found?.activeRequests, []);
      });

      test('round-trips metadata text exactly', async () => {
        const metadata = JSON.stringify({
          text: 'héllo wörld ✓ 日本語 "quoted" \\ back\nslash',
          nested: { list: [1, 2.5, -3, null, true, { deep: 'x' }] },
          empty: {},
        });
        const value = await created(t0, { metadata });
        assert.equal((await store.get(value.sessionId, t0))?.metadata, metadata);
      });

      test('answers undefined for an unknown id', async () => {
        assert.equal(await store.get(randomUUID(), t0), undefined);
      });

      test('keeps sessions apart', async () => {
        const a = await created(t0, { metadata: '{"n":1}' });
        const b = await created(t0, { metadata: '{"n":2}' });
        await store.addRequest(a.sessionId, 'r-a', t0 + 10);
        await store.addConnection(a.sessionId, t0 + 10);
        await store.delete(a.sessionId);
        same(await snapshot(b.sessionId, t0 + 10), b);
      });
    });

    describe('touch', () => {
      test('moves lastActivity to now and returns the session', async () => {
        const value = await created(t0);
        const touched = await store.touch(value.sessionId, t0 + 500);
        assert.equal(touched?.sessionId, value.sessionId);
        assert.equal(touched?.lastActivity, t0 + 500);
        assert.equal((await store.get(value.sessionId, t0 + 500))?.lastActivity, t0 + 500);
        assert.equal((await store.get(value.sessionId, t0 + 500))?.createdAt, t0);
      });

      test('extends the life of a session by a full timeout', async () => {
        const value = await created(t0);
        await store.touch(value.sessionId, t0 + 30_000);
        assert.notEqual(await store.get(value.sessionId, t0 + TIMEOUT_MS + 1), undefined);
        assert.notEqual(await store.get(value.sessionId, t0 + 30_000 + TIMEOUT_MS), undefined);
        assert.equal(await store.get(value.sessionId, t0 + 30_000 + TIMEOUT_MS + 1), undefined);
      });

      test('answers undefined for an unknown id and creates nothing', async () => {
        const before = await store.count();
        assert.equal(await store.touch(randomUUID(), t0), undefined);
        assert.equal(await store.count(), before);
      });
    });

    describe('expiry', () => {
      test('expires a session idle for longer than the timeout, not at the timeout', async () => {
        const value = await created(t0);
        assert.notEqual(await store.get(value.sessionId, t0 + TIMEOUT_MS), undefined);
        assert.equal(await store.get(value.sessionId, t0 + TIMEOUT_MS + 1), undefined);
      });

      test('hides an expired session from every read and write', async () => {
        const userId = `user-${randomUUID()}`;
        const value = await created(t0, { userId });
        const late = t0 + TIMEOUT_MS + 1;
        assert.equal(await store.get(value.sessionId, late), undefined);
        assert.equal(await store.touch(value.sessionId, late), undefined);
        assert.equal(await store.addRequest(value.sessionId, 'r1', late), undefined);
        assert.equal(await store.addConnection(value.sessionId, late), undefined);
        same(await store.listByUser(userId, late), []);
        // None of the writes above brought it back.
        assert.equal(await store.get(value.sessionId, late), undefined);
        assert.equal(await store.get(value.sessionId, late + 1), undefined);
      });

      test('never expires a session with a request in flight', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0 + 1);
        const muchLater = t0 + 10 * TIMEOUT_MS;
        assert.notEqual(await store.get(value.sessionId, muchLater), undefined);
        same(await store.sweep(muchLater), []);
        assert.notEqual(await store.touch(value.sessionId, muchLater), undefined);
      });

      test('never expires a session with an open connection', async () => {
        const value = await created(t0);
        await store.addConnection(value.sessionId, t0 + 1);
        const muchLater = t0 + 10 * TIMEOUT_MS;
        same(await store.sweep(muchLater), []);
        assert.equal((await store.get(value.sessionId, muchLater))?.connectionCount, 1);
      });

      test('counts idle time from the end of the last request', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0 + 1);
        const end = t0 + 5 * TIMEOUT_MS;
        await store.removeRequest(value.sessionId, 'r1', end);
        assert.equal((await store.get(value.sessionId, end + TIMEOUT_MS))?.lastActivity, end);
        same(await store.sweep(end + TIMEOUT_MS), []);
        const swept = await store.sweep(end + TIMEOUT_MS + 1);
        same(
          swept.map((r) => r.sessionId),
          [value.sessionId],
        );
      });

      test('counts idle time from the close of the last connection', async () => {
        const value = await created(t0);
        await store.addConnection(value.sessionId, t0 + 1);
        const end = t0 + 5 * TIMEOUT_MS;
        await store.removeConnection(value.sessionId, end);
        assert.notEqual(await store.get(value.sessionId, end + TIMEOUT_MS), undefined);
        assert.equal(await store.get(value.sessionId, end + TIMEOUT_MS + 1), undefined);
      });
    });

    describe('sweep', () => {
      test('removes and returns exactly the expired sessions', async () => {
        const pinned = await created(t0);
        await store.addRequest(pinned.sessionId, 'r1', t0);
        const old = [await created(t0), await created(t0 + 100), await created(t0 + 200)];
        const fresh = [await created(t0 + 300), await created(t0 + 400)];
        const now = t0 + 300 + TIMEOUT_MS; // fresh[0] is exactly at the limit
        const swept = await store.sweep(now);
        same(swept.map((r) => r.sessionId).sort(), old.map((r) => r.sessionId).sort());
        for (const r of old) assert.equal(await store.get(r.sessionId, t0 + 300), undefined);
        for (const r of fresh) same(await snapshot(r.sessionId, now), r);
        assert.notEqual(await store.get(pinned.sessionId, now), undefined);
      });

      test('returns the removed records with their fields', async () => {
        const userId = `user-${randomUUID()}`;
        const value = await created(t0, { userId, metadata: '{"k":"v"}' });
        const [swept, ...rest] = await store.sweep(t0 + TIMEOUT_MS + 1);
        same(rest, []);
        assert.equal(swept?.sessionId, value.sessionId);
        assert.equal(swept?.userId, userId);
      });

      test('leaves fresh sessions and finds nothing twice', async () => {
        const a = await created(t0);
        const b = await created(t0 + 10);
        same(await store.sweep(t0 + TIMEOUT_MS), []);
        assert.ok((await store.count()) >= 2);
        const first = await store.sweep(t0 + TIMEOUT_MS + 11);
        same(first.map((r) => r.sessionId).sort(), [a.sessionId, b.sessionId].sort());
        same(await store.sweep(t0 + TIMEOUT_MS + 12), []);
      });

      test('honours touches when choosing what to remove', async () => {
        const a = await created(t0);
        const b = await created(t0 + 10);
        await store.touch(a.sessionId, t0 + 1000);
        const swept = await store.sweep(t0 + 10 + TIMEOUT_MS + 1);
        same(
          swept.map((r) => r.sessionId),
          [b.sessionId],
        );
        assert.notEqual(await store.get(a.sessionId, t0 + 10 + TIMEOUT_MS + 1), undefined);
      });

      test('lowers the count by what it removed', async () => {
        const before = await store.count();
        await created(t0);
        await created(t0);
        await created(t0 + 5000);
        assert.equal(await store.count(), before + 3);
        const swept = await store.sweep(t0 + TIMEOUT_MS + 1);
        assert.equal(swept.length, 2);
        assert.equal(await store.count(), before + 1);
      });
    });

    describe('delete', () => {
      test('removes at once and returns the removed record', async () => {
        const value = await created(t0, { metadata: '{"a":1}' });
        const removed = await store.delete(value.sessionId);
        assert.equal(removed?.sessionId, value.sessionId);
        assert.equal(removed?.metadata, '{"a":1}');
        assert.equal(await store.get(value.sessionId, t0), undefined);
        assert.equal(await store.touch(value.sessionId, t0), undefined);
      });

      test('is idempotent', async () => {
        const value = await created(t0);
        assert.notEqual(await store.delete(value.sessionId), undefined);
        assert.equal(await store.delete(value.sessionId), undefined);
        assert.equal(await store.delete(randomUUID()), undefined);
      });

      test('removes a pinned session too, and sweep never returns it', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0);
        await store.addConnection(value.sessionId, t0);
        assert.notEqual(await store.delete(value.sessionId), undefined);
        assert.equal(await store.get(value.sessionId, t0), undefined);
        same(await store.sweep(t0 + 10 * TIMEOUT_MS), []);
      });

      test('is not undone by a request or connection that ends afterwards', async () => {
        const before = await store.count();
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0);
        await store.addConnection(value.sessionId, t0);
        await store.delete(value.sessionId);
        await store.removeRequest(value.sessionId, 'r1', t0 + 1);
        await store.removeConnection(value.sessionId, t0 + 1);
        assert.equal(await store.get(value.sessionId, t0 + 1), undefined);
        assert.equal(await store.count(), before);
        same(await store.sweep(t0 + 10 * TIMEOUT_MS), []);
      });
    });

    describe('rotate', () => {
      test('moves user, conversation and metadata to the new id; the old id is gone at once', async () => {
        const value = await created(t0, {
          userId: 'u-rot',
          conversationId: 'c1',
          metadata: '{"cart":[1,2]}',
        });
        const newId = newSessionId(value.sessionId);
        const rotated = await store.rotate(value.sessionId, newId, t0 + 5);
        matches(rotated, {
          sessionId: newId,
          userId: 'u-rot',
          conversationId: 'c1',
          metadata: '{"cart":[1,2]}',
          createdAt: t0 + 5,
          lastActivity: t0 + 5,
          connectionCount: 0,
        });
        same(rotated?.activeRequests, []);
        assert.equal(await store.get(value.sessionId, t0 + 5), undefined);
        assert.equal(await store.touch(value.sessionId, t0 + 5), undefined);
        matches(await snapshot(newId, t0 + 5), { sessionId: newId, userId: 'u-rot' });
        const ids = (await store.listByUser('u-rot', t0 + 5)).map((r) => r.sessionId);
        same(ids, [newId]);
      });

      test('gives the new session the user who logged in, when asked, moving it between users', async () => {
        const anonymous = await created(t0);
        const newId = newSessionId(anonymous.sessionId);
        matches(await store.rotate(anonymous.sessionId, newId, t0 + 1, { userId: 'u-login' }), {
          sessionId: newId,
          userId: 'u-login',
        });
        same(
          (await store.listByUser('u-login', t0 + 1)).map((r) => r.sessionId),
          [newId],
        );
        const other = newSessionId(newId);
        await store.rotate(newId, other, t0 + 2, { userId: 'u-next' });
        same(await store.listByUser('u-login', t0 + 2), []);
        same(
          (await store.listByUser('u-next', t0 + 2)).map((r) => r.sessionId),
          [other],
        );
      });

      test('answers undefined for an unknown or expired session and creates nothing', async () => {
        const before = await store.count();
        const unknown = randomUUID();
        assert.equal(await store.rotate(unknown, newSessionId(unknown), t0), undefined);
        const stale = await created(t0);
        const newId = newSessionId(stale.sessionId);
        assert.equal(await store.rotate(stale.sessionId, newId, t0 + TIMEOUT_MS + 1), undefined);
        assert.equal(await store.get(newId, t0 + TIMEOUT_MS + 1), undefined);
        assert.equal(await store.count(), before + 1);
      });

      test('leaves the new session unpinned and expiring, and old requests and connections cannot pin it', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0);
        await store.addConnection(value.sessionId, t0);
        const newId = newSessionId(value.sessionId);
        await store.rotate(value.sessionId, newId, t0 + 1);
        await store.removeRequest(value.sessionId, 'r1', t0 + 2);
        await store.removeConnection(value.sessionId, t0 + 2);
        assert.equal(await store.get(value.sessionId, t0 + 2), undefined);
        const removed = (await store.sweep(t0 + 2 + TIMEOUT_MS + 1)).map((r) => r.sessionId);
        assert.ok(removed.includes(newId));
        assert.ok(!removed.includes(value.sessionId));
      });

      test('keeps other sessions intact', async () => {
        const a = await created(t0, { userId: 'u-a' });
        const b = await created(t0, { userId: 'u-a' });
        await store.addRequest(b.sessionId, 'rb', t0);
        await store.rotate(a.sessionId, newSessionId(a.sessionId), t0 + 1);
        matches(await snapshot(b.sessionId, t0 + 1), { activeRequests: ['rb'] });
        assert.equal((await store.listByUser('u-a', t0 + 1)).length, 2);
      });
    });

    describe('replaceMetadata', () => {
      test('replaces the metadata of the version given, raising it by one and touching', async () => {
        const value = await created(t0, { metadata: '{"a":1}' });
        const replaced = await store.replaceMetadata(value.sessionId, '{"a":2}', 1, t0 + 5);
        matches(replaced, {
          metadata: '{"a":2}',
          metadataVersion: 2,
          lastActivity: t0 + 5,
        });
        matches(await snapshot(value.sessionId, t0 + 5), {
          metadata: '{"a":2}',
          metadataVersion: 2,
        });
      });

      test('answers conflict for another version and changes nothing', async () => {
        const value = await created(t0, { metadata: '{"a":1}' });
        assert.equal(
          await store.replaceMetadata(value.sessionId, '{"a":3}', 2, t0 + 1),
          'conflict',
        );
        matches(await snapshot(value.sessionId, t0 + 1), {
          metadata: '{"a":1}',
          metadataVersion: 1,
          lastActivity: t0,
        });
      });

      test('answers undefined for an unknown or expired session', async () => {
        assert.equal(await store.replaceMetadata(randomUUID(), '{}', 1, t0), undefined);
        const stale = await created(t0);
        assert.equal(
          await store.replaceMetadata(stale.sessionId, '{"a":1}', 1, t0 + TIMEOUT_MS + 1),
          undefined,
        );
      });

      test('keeps the version through a rotation', async () => {
        const value = await created(t0);
        await store.replaceMetadata(value.sessionId, '{"b":1}', 1, t0 + 1);
        const newId = newSessionId(value.sessionId);
        matches(await store.rotate(value.sessionId, newId, t0 + 2), {
          metadata: '{"b":1}',
          metadataVersion: 2,
        });
      });
    });

    describe('requests in flight', () => {
      test('counts each session’s requests per fixed window when asked to, and not otherwise', async () => {
        const value = await created(t0);
        const other = await created(t0);
        const uncounted = await store.addRequest(value.sessionId, 'u', t0 + 1);
        assert.equal(uncounted?.requestsInWindow, undefined);
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
        same(counts, [
          [window, 1],
          [window, 2],
          [window, 1],
          [window, 3],
          [window + 1, 1],
        ]);
      });

      test('keeps the exact list of request ids', async () => {
        const value = await created(t0);
        const added = await store.addRequest(value.sessionId, 'r1', t0 + 1);
        same(added?.activeRequests, ['r1']);
        assert.equal(added?.lastActivity, t0 + 1);
        await store.addRequest(value.sessionId, 'r2', t0 + 2);
        await store.addRequest(value.sessionId, 'r3', t0 + 3);
        same((await snapshot(value.sessionId, t0 + 3))?.activeRequests, ['r1', 'r2', 'r3']);
        await store.removeRequest(value.sessionId, 'r2', t0 + 4);
        const after = await snapshot(value.sessionId, t0 + 4);
        same(after?.activeRequests, ['r1', 'r3']);
        assert.equal(after?.lastActivity, t0 + 4);
        await store.removeRequest(value.sessionId, 'r1', t0 + 5);
        await store.removeRequest(value.sessionId, 'r3', t0 + 5);
        same((await snapshot(value.sessionId, t0 + 5))?.activeRequests, []);
      });

      test('ignores removing a request it does not hold', async () => {
        const value = await created(t0);
        await store.addRequest(value.sessionId, 'r1', t0);
        await store.removeRequest(value.sessionId, 'unknown', t0 + 1);
        await store.removeRequest(randomUUID(), 'r1', t0 + 1);
        same((await snapshot(value.sessionId, t0 + 1))?.activeRequests, ['r1']);
      });

      test('answers undefined when adding to an unknown session, and creates nothing', async () => {
        const id = randomUUID();
        assert.equal(await store.addRequest(id, 'r1', t0), undefined);
        assert.equal(await store.get(id, t0), undefined);
      });

      test('keeps counts exact under many concurrent adds and removes', async () => {
        const value = await created(t0);
        const ids = Array.from({ length: 200 }, (_, i) => `r${i}`);
        await Promise.all(ids.map((id) => store.addRequest(value.sessionId, id, t0 + 1)));
        same((await snapshot(value.sessionId, t0 + 10))?.activeRequests, [...ids].sort());
        const removed = ids.filter((_, i) => i % 3 !== 0);
        const more = Array.from({ length: 50 }, (_, i) => `s${i}`);
        await Promise.all([
          ...removed.map((id) => store.removeRequest(value.sessionId, id, t0 + 20)),
          ...more.map((id) => store.addRequest(value.sessionId, id, t0 + 20)),
        ]);
        const expected = [...ids.filter((_, i) => i % 3 === 0), ...more].sort();
        same((await snapshot(value.sessionId, t0 + 20))?.activeRequests, expected);
        await Promise.all(expected.map((id) => store.removeRequest(value.sessionId, id, t0 + 30)));
        same((await snapshot(value.sessionId, t0 + 30))?.activeRequests, []);
      });
    });

    describe('connections', () => {
      test('counts open connections exactly and touches', async () => {
        const value = await created(t0);
        assert.equal((await store.addConnection(value.sessionId, t0 + 1))?.connectionCount, 1);
        await store.addConnection(value.sessionId, t0 + 2);
        await store.addConnection(value.sessionId, t0 + 3);
        await store.removeConnection(value.sessionId, t0 + 4);
        const found = await store.get(value.sessionId, t0 + 4);
        assert.equal(found?.connectionCount, 2);
        assert.equal(found?.lastActivity, t0 + 4);
      });

      test('never goes below zero', async () => {
        const value = await created(t0);
        await store.addConnection(value.sessionId, t0);
        for (let i = 0; i < 4; i += 1) await store.removeConnection(value.sessionId, t0 + 1);
        assert.equal((await store.get(value.sessionId, t0 + 1))?.connectionCount, 0);
        assert.equal((await store.addConnection(value.sessionId, t0 + 2))?.connectionCount, 1);
      });

      test('answers undefined for an unknown session', async () => {
        assert.equal(await store.addConnection(randomUUID(), t0), undefined);
      });

      test('stays exact under concurrent opens and closes', async () => {
        const value = await created(t0);
        await Promise.all(
          Array.from({ length: 100 }, () => store.addConnection(value.sessionId, t0 + 1)),
        );
        assert.equal((await store.get(value.sessionId, t0 + 1))?.connectionCount, 100);
        await Promise.all([
          ...Array.from({ length: 70 }, () => store.removeConnection(value.sessionId, t0 + 2)),
          ...Array.from({ length: 20 }, () => store.addConnection(value.sessionId, t0 + 2)),
        ]);
        assert.equal((await store.get(value.sessionId, t0 + 2))?.connectionCount, 50);
      });
    });

    describe('listByUser', () => {
      test('lists live sessions of the user, most recently active first', async () => {
        const userId = `user-${randomUUID()}`;
        const a = await created(t0, { userId });
        const b = await created(t0 + 10, { userId });
        const c = await created(t0 + 20, { userId });
        await created(t0 + 30, { userId: `other-${randomUUID()}` });
        await created(t0 + 30);
        await store.touch(a.sessionId, t0 + 40);
        const listed = await store.listByUser(userId, t0 + 40);
        same(
          listed.map((r) => r.sessionId),
          [a.sessionId, c.sessionId, b.sessionId],
        );
      });

      test('leaves out expired and deleted sessions', async () => {
        const userId = `user-${randomUUID()}`;
        await created(t0, { userId }); // expired by the time of the listing
        const deleted = await created(t0 + 1000, { userId });
        const live = await created(t0 + 2000, { userId });
        await store.delete(deleted.sessionId);
        const listed = await store.listByUser(userId, t0 + 1000 + TIMEOUT_MS);
        same(
          listed.map((r) => r.sessionId),
          [live.sessionId],
        );
      });

      test('answers an empty list for an unknown user', async () => {
        same(await store.listByUser(`user-${randomUUID()}`, t0), []);
      });
    });

    describe('count, ping and close', () => {
      test('counts stored sessions', async () => {
        const before = await store.count();
        const a = await created(t0);
        await created(t0);
        assert.equal(await store.count(), before + 2);
        await store.delete(a.sessionId);
        assert.equal(await store.count(), before + 1);
      });

      test('answers ping', async () => {
        assert.equal(await store.ping(), undefined);
      });
    });
  });
}
