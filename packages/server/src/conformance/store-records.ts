import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { newSessionId } from '../session.js';
import { matches, same } from './assert.js';
import { type StoreSuite, TIMEOUT_MS } from './fixture.js';

/**
 * The records of the required core (`StoreCore`) as tests: create, read,
 * touch, replace the metadata of, delete, list by user and count sessions.
 * Registered by `describeStoreConformance` for every store.
 */
export function recordTests({ describe, test }: StoreSuite): void {
  test('has a name', ({ store }) => {
    assert.equal(typeof store.name, 'string');
    assert.ok(store.name.length > 0);
  });

  describe('create and get', () => {
    test('returns every field of a created session', async ({ t0, created, snapshot }) => {
      const value = await created(t0, {
        userId: `user-${randomUUID()}`,
        conversationId: 'conversation-1',
        metadata: '{"plan":"pro","tags":["a","b"]}',
      });
      same(await snapshot(value.sessionId, t0), value);
    });

    test('keeps absent optional fields absent', async ({ store, t0, created }) => {
      const value = await created(t0);
      const found = await store.get(value.sessionId, t0);
      assert.equal(found?.userId, undefined);
      assert.equal(found?.conversationId, undefined);
      assert.equal(found?.connectionCount, 0);
      same(found?.activeRequests, []);
    });

    test('round-trips metadata text exactly', async ({ store, t0, created }) => {
      const metadata = JSON.stringify({
        text: 'héllo wörld ✓ 日本語 "quoted" \\ back\nslash',
        nested: { list: [1, 2.5, -3, null, true, { deep: 'x' }] },
        empty: {},
      });
      const value = await created(t0, { metadata });
      assert.equal((await store.get(value.sessionId, t0))?.metadata, metadata);
    });

    test('answers undefined for an unknown id', async ({ store, t0 }) => {
      assert.equal(await store.get(randomUUID(), t0), undefined);
    });

    test('keeps sessions apart', async ({ store, t0, created, snapshot }) => {
      const a = await created(t0, { metadata: '{"n":1}' });
      const b = await created(t0, { metadata: '{"n":2}' });
      await store.addRequest(a.sessionId, 'r-a', t0 + 10);
      await store.addConnection(a.sessionId, t0 + 10);
      await store.delete(a.sessionId);
      same(await snapshot(b.sessionId, t0 + 10), b);
    });
  });

  describe('touch', () => {
    test('moves lastActivity to now and returns the session', async ({ store, t0, created }) => {
      const value = await created(t0);
      const touched = await store.touch(value.sessionId, t0 + 500);
      assert.equal(touched?.sessionId, value.sessionId);
      assert.equal(touched?.lastActivity, t0 + 500);
      assert.equal((await store.get(value.sessionId, t0 + 500))?.lastActivity, t0 + 500);
      assert.equal((await store.get(value.sessionId, t0 + 500))?.createdAt, t0);
    });

    test('extends the life of a session by a full timeout', async ({ store, t0, created }) => {
      const value = await created(t0);
      await store.touch(value.sessionId, t0 + 30_000);
      assert.notEqual(await store.get(value.sessionId, t0 + TIMEOUT_MS + 1), undefined);
      assert.notEqual(await store.get(value.sessionId, t0 + 30_000 + TIMEOUT_MS), undefined);
      assert.equal(await store.get(value.sessionId, t0 + 30_000 + TIMEOUT_MS + 1), undefined);
    });

    test('answers undefined for an unknown id and creates nothing', async ({ store, t0 }) => {
      const before = await store.count();
      assert.equal(await store.touch(randomUUID(), t0), undefined);
      assert.equal(await store.count(), before);
    });
  });

  describe('replaceMetadata', () => {
    test('replaces the metadata of the version given, raising it by one and touching', async ({
      store,
      t0,
      created,
      snapshot,
    }) => {
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

    test('answers conflict for another version and changes nothing', async ({
      store,
      t0,
      created,
      snapshot,
    }) => {
      const value = await created(t0, { metadata: '{"a":1}' });
      assert.equal(await store.replaceMetadata(value.sessionId, '{"a":3}', 2, t0 + 1), 'conflict');
      matches(await snapshot(value.sessionId, t0 + 1), {
        metadata: '{"a":1}',
        metadataVersion: 1,
        lastActivity: t0,
      });
    });

    test('answers undefined for an unknown or expired session', async ({ store, t0, created }) => {
      assert.equal(await store.replaceMetadata(randomUUID(), '{}', 1, t0), undefined);
      const stale = await created(t0);
      assert.equal(
        await store.replaceMetadata(stale.sessionId, '{"a":1}', 1, t0 + TIMEOUT_MS + 1),
        undefined,
      );
    });

    test('keeps the version through a rotation', async ({ store, t0, created }) => {
      const value = await created(t0);
      await store.replaceMetadata(value.sessionId, '{"b":1}', 1, t0 + 1);
      const newId = newSessionId(value.sessionId);
      matches(await store.rotate(value.sessionId, newId, t0 + 2), {
        metadata: '{"b":1}',
        metadataVersion: 2,
      });
    });
  });

  describe('delete', () => {
    test('removes at once and returns the removed record', async ({ store, t0, created }) => {
      const value = await created(t0, { metadata: '{"a":1}' });
      const removed = await store.delete(value.sessionId);
      assert.equal(removed?.sessionId, value.sessionId);
      assert.equal(removed?.metadata, '{"a":1}');
      assert.equal(await store.get(value.sessionId, t0), undefined);
      assert.equal(await store.touch(value.sessionId, t0), undefined);
    });

    test('is idempotent', async ({ store, t0, created }) => {
      const value = await created(t0);
      assert.notEqual(await store.delete(value.sessionId), undefined);
      assert.equal(await store.delete(value.sessionId), undefined);
      assert.equal(await store.delete(randomUUID()), undefined);
    });

    test('removes a pinned session too, and sweep never returns it', async ({
      store,
      t0,
      created,
    }) => {
      const value = await created(t0);
      await store.addRequest(value.sessionId, 'r1', t0);
      await store.addConnection(value.sessionId, t0);
      assert.notEqual(await store.delete(value.sessionId), undefined);
      assert.equal(await store.get(value.sessionId, t0), undefined);
      same(await store.sweep(t0 + 10 * TIMEOUT_MS), []);
    });

    test('is not undone by a request or connection that ends afterwards', async ({
      store,
      t0,
      created,
    }) => {
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

  describe('listByUser', () => {
    test('lists live sessions of the user, most recently active first', async ({
      store,
      t0,
      created,
    }) => {
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

    test('leaves out expired and deleted sessions', async ({ store, t0, created }) => {
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

    test('answers an empty list for an unknown user', async ({ store, t0 }) => {
      same(await store.listByUser(`user-${randomUUID()}`, t0), []);
    });
  });

  describe('count, ping and close', () => {
    test('counts stored sessions', async ({ store, t0, created }) => {
      const before = await store.count();
      const a = await created(t0);
      await created(t0);
      assert.equal(await store.count(), before + 2);
      await store.delete(a.sessionId);
      assert.equal(await store.count(), before + 1);
    });

    test('answers ping', async ({ store }) => {
      assert.equal(await store.ping(), undefined);
    });
  });
}
