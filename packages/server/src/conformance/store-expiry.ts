import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { newSessionId } from '../session.js';
import { matches, same } from './assert.js';
import { type StoreSuite, TIMEOUT_MS } from './fixture.js';

/**
 * How sessions end or move, from the required core (`StoreCore`), as
 * tests: expiry of idle unpinned sessions, the sweep that removes them,
 * and rotation to a new id. Registered by `describeStoreConformance` for
 * every store.
 */
export function expiryTests({ describe, test }: StoreSuite): void {
  describe('expiry', () => {
    test('expires a session idle for longer than the timeout, not at the timeout', async ({
      store,
      t0,
      created,
    }) => {
      const value = await created(t0);
      assert.notEqual(await store.get(value.sessionId, t0 + TIMEOUT_MS), undefined);
      assert.equal(await store.get(value.sessionId, t0 + TIMEOUT_MS + 1), undefined);
    });

    test('hides an expired session from every read and write', async ({ store, t0, created }) => {
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

    test('never expires a session with a request in flight', async ({ store, t0, created }) => {
      const value = await created(t0);
      await store.addRequest(value.sessionId, 'r1', t0 + 1);
      const muchLater = t0 + 10 * TIMEOUT_MS;
      assert.notEqual(await store.get(value.sessionId, muchLater), undefined);
      same(await store.sweep(muchLater), []);
      assert.notEqual(await store.touch(value.sessionId, muchLater), undefined);
    });

    test('never expires a session with an open connection', async ({ store, t0, created }) => {
      const value = await created(t0);
      await store.addConnection(value.sessionId, t0 + 1);
      const muchLater = t0 + 10 * TIMEOUT_MS;
      same(await store.sweep(muchLater), []);
      assert.equal((await store.get(value.sessionId, muchLater))?.connectionCount, 1);
    });

    test('counts idle time from the end of the last request', async ({ store, t0, created }) => {
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

    test('counts idle time from the close of the last connection', async ({
      store,
      t0,
      created,
    }) => {
      const value = await created(t0);
      await store.addConnection(value.sessionId, t0 + 1);
      const end = t0 + 5 * TIMEOUT_MS;
      await store.removeConnection(value.sessionId, end);
      assert.notEqual(await store.get(value.sessionId, end + TIMEOUT_MS), undefined);
      assert.equal(await store.get(value.sessionId, end + TIMEOUT_MS + 1), undefined);
    });
  });

  describe('sweep', () => {
    test('removes and returns exactly the expired sessions', async ({
      store,
      t0,
      created,
      snapshot,
    }) => {
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

    test('returns the removed records with their fields', async ({ store, t0, created }) => {
      const userId = `user-${randomUUID()}`;
      const value = await created(t0, { userId, metadata: '{"k":"v"}' });
      const [swept, ...rest] = await store.sweep(t0 + TIMEOUT_MS + 1);
      same(rest, []);
      assert.equal(swept?.sessionId, value.sessionId);
      assert.equal(swept?.userId, userId);
    });

    test('leaves fresh sessions and finds nothing twice', async ({ store, t0, created }) => {
      const a = await created(t0);
      const b = await created(t0 + 10);
      same(await store.sweep(t0 + TIMEOUT_MS), []);
      assert.ok((await store.count()) >= 2);
      const first = await store.sweep(t0 + TIMEOUT_MS + 11);
      same(first.map((r) => r.sessionId).sort(), [a.sessionId, b.sessionId].sort());
      same(await store.sweep(t0 + TIMEOUT_MS + 12), []);
    });

    test('honours touches when choosing what to remove', async ({ store, t0, created }) => {
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

    test('lowers the count by what it removed', async ({ store, t0, created }) => {
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

  describe('rotate', () => {
    test('moves user, conversation and metadata to the new id; the old id is gone at once', async ({
      store,
      t0,
      created,
      snapshot,
    }) => {
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

    test('gives the new session the user who logged in, when asked, moving it between users', async ({
      store,
      t0,
      created,
    }) => {
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

    test('answers undefined for an unknown or expired session and creates nothing', async ({
      store,
      t0,
      created,
    }) => {
      const before = await store.count();
      const unknown = randomUUID();
      assert.equal(await store.rotate(unknown, newSessionId(unknown), t0), undefined);
      const stale = await created(t0);
      const newId = newSessionId(stale.sessionId);
      assert.equal(await store.rotate(stale.sessionId, newId, t0 + TIMEOUT_MS + 1), undefined);
      assert.equal(await store.get(newId, t0 + TIMEOUT_MS + 1), undefined);
      assert.equal(await store.count(), before + 1);
    });

    test('leaves the new session unpinned and expiring, and old requests and connections cannot pin it', async ({
      store,
      t0,
      created,
    }) => {
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

    test('keeps other sessions intact', async ({ store, t0, created, snapshot }) => {
      const a = await created(t0, { userId: 'u-a' });
      const b = await created(t0, { userId: 'u-a' });
      await store.addRequest(b.sessionId, 'rb', t0);
      await store.rotate(a.sessionId, newSessionId(a.sessionId), t0 + 1);
      matches(await snapshot(b.sessionId, t0 + 1), { activeRequests: ['rb'] });
      assert.equal((await store.listByUser('u-a', t0 + 1)).length, 2);
    });
  });
}
