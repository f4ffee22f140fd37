import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { same } from './assert.js';
import { type StoreSuite, TIMEOUT_MS } from './fixture.js';

/**
 * What pins a session, from the required core (`StoreCore`), as tests:
 * requests in flight (and their count per window) and open connections,
 * exact under concurrency. Registered by `describeStoreConformance` for
 * every store.
 */
export function requestTests({ describe, test }: StoreSuite): void {
  describe('requests in flight', () => {
    test('counts each session’s requests per fixed window when asked to, and not otherwise', async ({
      store,
      t0,
      created,
    }) => {
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

    test('keeps the exact list of request ids', async ({ store, t0, created, snapshot }) => {
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

    test('ignores removing a request it does not hold', async ({
      store,
      t0,
      created,
      snapshot,
    }) => {
      const value = await created(t0);
      await store.addRequest(value.sessionId, 'r1', t0);
      await store.removeRequest(value.sessionId, 'unknown', t0 + 1);
      await store.removeRequest(randomUUID(), 'r1', t0 + 1);
      same((await snapshot(value.sessionId, t0 + 1))?.activeRequests, ['r1']);
    });

    test('answers undefined when adding to an unknown session, and creates nothing', async ({
      store,
      t0,
    }) => {
      const id = randomUUID();
      assert.equal(await store.addRequest(id, 'r1', t0), undefined);
      assert.equal(await store.get(id, t0), undefined);
    });

    test('keeps counts exact under many concurrent adds and removes', async ({
      store,
      t0,
      created,
      snapshot,
    }) => {
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
    test('counts open connections exactly and touches', async ({ store, t0, created }) => {
      const value = await created(t0);
      assert.equal((await store.addConnection(value.sessionId, t0 + 1))?.connectionCount, 1);
      await store.addConnection(value.sessionId, t0 + 2);
      await store.addConnection(value.sessionId, t0 + 3);
      await store.removeConnection(value.sessionId, t0 + 4);
      const found = await store.get(value.sessionId, t0 + 4);
      assert.equal(found?.connectionCount, 2);
      assert.equal(found?.lastActivity, t0 + 4);
    });

    test('never goes below zero', async ({ store, t0, created }) => {
      const value = await created(t0);
      await store.addConnection(value.sessionId, t0);
      for (let i = 0; i < 4; i += 1) await store.removeConnection(value.sessionId, t0 + 1);
      assert.equal((await store.get(value.sessionId, t0 + 1))?.connectionCount, 0);
      assert.equal((await store.addConnection(value.sessionId, t0 + 2))?.connectionCount, 1);
    });

    test('answers undefined for an unknown session', async ({ store, t0 }) => {
      assert.equal(await store.addConnection(randomUUID(), t0), undefined);
    });

    test('stays exact under concurrent opens and closes', async ({ store, t0, created }) => {
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
}
