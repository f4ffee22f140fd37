import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { newSessionId, type SessionRecord } from '../session.js';
import {
  type CapabilityInterfaces,
  hasCapability,
  type StoreCapability,
} from '../store/capabilities.js';
import type { Store, StoreEvent } from '../store/store.js';
import { same, until } from './assert.js';
import {
  createdIn,
  eachStore,
  type StoreConformanceOptions,
  snapshotIn,
  TIMEOUT_MS,
} from './fixture.js';
import type { TestContext, TestRunner } from './runner.js';

/**
 * The optional capabilities of `Store` as tests. Each runs only when the
 * store has the capability (all its methods); otherwise it is skipped with
 * a note. Registered by `describeStoreConformance`.
 */
export function describeStoreCapabilities(
  runner: TestRunner,
  options: StoreConformanceOptions,
): void {
  const { describe, test } = runner;
  describe('capabilities', () => {
    let current: Store;
    let t0: number;
    eachStore(runner, options, (fresh) => {
      current = fresh.store;
      t0 = fresh.t0;
    });
    const created = (at: number, fields: Partial<SessionRecord> = {}) =>
      createdIn(current, at, fields);
    const snapshot = (sessionId: string, now: number) => snapshotIn(current, sessionId, now);

    /** The test's store when it has `capability`; else skips the test and answers undefined. */
    function able<C extends StoreCapability>(
      context: TestContext,
      capability: C,
    ): (Store & CapabilityInterfaces[C]) | undefined {
      if (hasCapability(current, capability)) return current;
      context.skip?.(`${current.name} has no ${capability}`);
      return undefined;
    }

    /** A second node on the same backing service, configured; undefined (test skipped) without `createPeer`. */
    async function peerOf(context: TestContext, store: Store): Promise<Store | undefined> {
      if (options.createPeer === undefined) {
        context.skip?.('no createPeer: the store has no other node');
        return undefined;
      }
      const peer = await options.createPeer(store);
      peer.configure({ sessionTimeoutMs: TIMEOUT_MS });
      return peer;
    }

    describe('listing', () => {
      test('lists up to `limit` live sessions of all users, pinned ones included, most recent first', async (context) => {
        const store = able(context, 'listing');
        if (store === undefined) return;
        const list = (limit: number, now: number) => store.list(limit, now);
        const expired = await created(t0);
        const pinned = await created(t0 + 10);
        await store.addConnection(pinned.sessionId, t0 + 10);
        const idle = await created(t0 + 20, { userId: `user-${randomUUID()}` });
        const newest = await created(t0 + 30);
        const deleted = await created(t0 + 40);
        await store.delete(deleted.sessionId);
        const later = t0 + 15 + TIMEOUT_MS;
        same(
          (await list(10, later)).map((r) => [r.sessionId, r.connectionCount, r.userId]),
          [
            [newest.sessionId, 0, undefined],
            [idle.sessionId, 0, idle.userId],
            [pinned.sessionId, 1, undefined],
          ],
        );
        same(
          (await list(2, later)).map((r) => r.sessionId),
          [newest.sessionId, idle.sessionId],
        );
        same(await list(0, later), []);
        assert.ok(!(await list(10, later)).map((r) => r.sessionId).includes(expired.sessionId));
      });
    });

    describe('idempotency keys', () => {
      const FP = 'a'.repeat(64);

      test('claims a new key once, then answers it pending, then done with its outcome', async (context) => {
        const store = able(context, 'idempotency');
        if (store === undefined) return;
        const { sessionId } = await created(t0);
        same(await store.claimIdempotencyKey(sessionId, 'k1', FP, t0), { state: 'new' });
        same(await store.claimIdempotencyKey(sessionId, 'k1', 'other', t0 + 1), {
          state: 'pending',
          fingerprint: FP,
        });
        const outcome = '{"ok":{"json":{"n":1,"text":"héllo\\n✓"}}}\nsecond line';
        await store.completeIdempotencyKey(sessionId, 'k1', outcome, t0 + 2);
        same(await store.claimIdempotencyKey(sessionId, 'k1', FP, t0 + 3), {
          state: 'done',
          fingerprint: FP,
          outcome,
        });
      });

      test('keeps keys of different sessions and different keys apart', async (context) => {
        const store = able(context, 'idempotency');
        if (store === undefined) return;
        const a = await created(t0);
        const b = await created(t0);
        await store.claimIdempotencyKey(a.sessionId, 'same', FP, t0);
        await store.completeIdempotencyKey(a.sessionId, 'same', 'A', t0);
        same(await store.claimIdempotencyKey(b.sessionId, 'same', FP, t0), {
          state: 'new',
        });
        same(await store.claimIdempotencyKey(a.sessionId, 'other', FP, t0), {
          state: 'new',
        });
      });

      test('forgets a released claim, so the call runs afresh; a done record stays', async (context) => {
        const store = able(context, 'idempotency');
        if (store === undefined) return;
        const { sessionId } = await created(t0);
        await store.claimIdempotencyKey(sessionId, 'k', FP, t0);
        await store.releaseIdempotencyKey(sessionId, 'k');
        same(await store.claimIdempotencyKey(sessionId, 'k', FP, t0), { state: 'new' });
        await store.completeIdempotencyKey(sessionId, 'k', 'out', t0);
        await store.releaseIdempotencyKey(sessionId, 'k');
        assert.equal((await store.claimIdempotencyKey(sessionId, 'k', FP, t0)).state, 'done');
      });

      test('records nothing for an absent, expired or deleted session', async (context) => {
        const store = able(context, 'idempotency');
        if (store === undefined) return;
        const unknown = randomUUID();
        same(await store.claimIdempotencyKey(unknown, 'k', FP, t0), { state: 'new' });
        same(await store.claimIdempotencyKey(unknown, 'k', FP, t0), { state: 'new' });
        await store.completeIdempotencyKey(unknown, 'k', 'out', t0);
        same(await store.claimIdempotencyKey(unknown, 'k', FP, t0), { state: 'new' });

        const idle = await created(t0);
        const late = t0 + TIMEOUT_MS + 1;
        same(await store.claimIdempotencyKey(idle.sessionId, 'k', FP, late), {
          state: 'new',
        });

        const ended = await created(t0);
        await store.claimIdempotencyKey(ended.sessionId, 'k', FP, t0);
        await store.completeIdempotencyKey(ended.sessionId, 'k', 'out', t0);
        await store.delete(ended.sessionId);
        same(await store.claimIdempotencyKey(ended.sessionId, 'k', FP, t0), {
          state: 'new',
        });
      });

      test('lets a record expire after idempotencyWindowMs', async (context) => {
        const store = able(context, 'idempotency');
        if (store === undefined) return;
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
        same(await store.claimIdempotencyKey(sessionId, 'pending', FP, later), {
          state: 'new',
        });
        same(await store.claimIdempotencyKey(sessionId, 'done', FP, later), {
          state: 'new',
        });
      });
    });

    describe('rateLimits', () => {
      test('allows `limit` points per key in a window, then refuses until it resets', async (context) => {
        const store = able(context, 'rateLimits');
        if (store === undefined) return;
        const policy = { limit: 3, windowMs: 60_000 };
        const limiter = store.rateLimiter(`conformance-${randomUUID()}`, policy);
        same(limiter.policy, policy);
        const key = randomUUID();
        const decisions = [];
        for (let i = 0; i < 4; i += 1) decisions.push(await limiter.consume(key));
        same(
          decisions.map((d) => [d.allowed, d.remaining, d.limit, d.windowMs]),
          [
            [true, 2, 3, 60_000],
            [true, 1, 3, 60_000],
            [true, 0, 3, 60_000],
            [false, 0, 3, 60_000],
          ],
        );
        const refused = decisions[3]?.resetMs ?? 0;
        assert.ok(refused > 0 && refused <= 60_000, `resetMs ${refused}`);
        assert.equal((await limiter.consume(randomUUID())).allowed, true);
        const other = store.rateLimiter(`conformance-${randomUUID()}`, policy);
        assert.equal((await other.consume(key)).allowed, true);
      });

      test('counts a name and key across nodes', async (context) => {
        const store = able(context, 'rateLimits');
        if (store === undefined) return;
        const peer = await peerOf(context, store);
        if (peer === undefined) return;
        try {
          assert.ok(hasCapability(peer, 'rateLimits'), 'the peer has no rateLimiter');
          const name = `conformance-${randomUUID()}`;
          const policy = { limit: 2, windowMs: 60_000 };
          const key = randomUUID();
          assert.equal((await store.rateLimiter(name, policy).consume(key)).allowed, true);
          assert.equal((await peer.rateLimiter(name, policy).consume(key)).allowed, true);
          assert.equal((await store.rateLimiter(name, policy).consume(key)).allowed, false);
        } finally {
          await peer.close();
        }
      });
    });

    describe('events', () => {
      test('never delivers the store’s own changes, and unsubscribes', async (context) => {
        const store = able(context, 'events');
        if (store === undefined) return;
        const heard: StoreEvent[] = [];
        const unsubscribe = store.subscribe((event) => heard.push(event));
        const own = await created(t0);
        await store.rotate(own.sessionId, newSessionId(own.sessionId), t0 + 1);
        await new Promise((resolve) => setTimeout(resolve, 50));
        same(heard, []);
        unsubscribe();
        unsubscribe();
      });

      test('delivers what another node deleted, rotated and expired, in order', async (context) => {
        const store = able(context, 'events');
        if (store === undefined) return;
        const peer = await peerOf(context, store);
        if (peer === undefined) return;
        const heard: StoreEvent[] = [];
        const unsubscribe = store.subscribe((event) => heard.push(event));
        try {
          // A subscription may take a moment to start: the peer deletes
          // sessions until one is heard.
          const deadline = Date.now() + 5_000;
          for (let heardOne = false; !heardOne; ) {
            if (Date.now() > deadline) throw new Error('no event of the peer within 5 s');
            const probe = await created(t0);
            await peer.delete(probe.sessionId);
            await new Promise((resolve) => setTimeout(resolve, 20));
            heardOne = heard.some((event) => event.sessionId === probe.sessionId);
          }
          heard.length = 0;
          const own = await created(t0);
          await store.delete(own.sessionId);
          const deleted = await created(t0);
          const rotated = await created(t0);
          const expired = await created(t0);
          await peer.delete(deleted.sessionId);
          const newId = newSessionId(rotated.sessionId);
          await peer.rotate(rotated.sessionId, newId, t0 + 1);
          const swept = await peer.sweep(t0 + TIMEOUT_MS + 1);
          same(
            swept.map((record) => record.sessionId),
            [expired.sessionId],
          );
          await until(() => heard.length >= 3);
          same(heard, [
            { type: 'deleted', sessionId: deleted.sessionId },
            { type: 'rotated', sessionId: rotated.sessionId, newSessionId: newId },
            { type: 'expired', sessionId: expired.sessionId },
          ]);
        } finally {
          unsubscribe();
          await peer.close();
        }
      });
    });

    describe('syncRequests', () => {
      test('adds and removes requests at once, as addRequest and removeRequest do', async (context) => {
        const store = able(context, 'syncRequests');
        if (store === undefined) return;
        const value = await created(t0);
        const added = store.addRequestSync(value.sessionId, 'r1', t0 + 1);
        same([...(added?.activeRequests ?? [])], ['r1']);
        assert.equal(added?.lastActivity, t0 + 1);
        await store.addRequest(value.sessionId, 'r2', t0 + 2);
        same((await snapshot(value.sessionId, t0 + 2))?.activeRequests, ['r1', 'r2']);
        store.removeRequestSync(value.sessionId, 'r1', t0 + 3);
        store.removeRequestSync(value.sessionId, 'unknown', t0 + 3);
        const after = await snapshot(value.sessionId, t0 + 3);
        same(after?.activeRequests, ['r2']);
        assert.equal(after?.lastActivity, t0 + 3);
        store.configure({ sessionTimeoutMs: TIMEOUT_MS, requestWindowMs: 60_000 });
        // Records belong to the store: each count is read before the next call.
        assert.equal(store.addRequestSync(value.sessionId, 'r3', t0 + 4)?.requestsInWindow, 1);
        assert.equal(store.addRequestSync(value.sessionId, 'r4', t0 + 4)?.requestsInWindow, 2);
      });

      test('answers undefined for an unknown or expired session, and changes nothing', async (context) => {
        const store = able(context, 'syncRequests');
        if (store === undefined) return;
        const id = randomUUID();
        assert.equal(store.addRequestSync(id, 'r1', t0), undefined);
        store.removeRequestSync(id, 'r1', t0);
        assert.equal(await store.get(id, t0), undefined);
        const stale = await created(t0);
        const late = t0 + TIMEOUT_MS + 1;
        assert.equal(store.addRequestSync(stale.sessionId, 'r1', late), undefined);
        assert.equal(await store.get(stale.sessionId, late), undefined);
      });
    });
  });
}
