import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { newSessionId } from '../session.js';
import {
  type CapabilityInterfaces,
  capabilityMethods,
  type StoreCapability,
} from '../store/capabilities.js';
import type { Store, StoreEvent } from '../store/store.js';
import { same } from './assert.js';
import { capabilitySuite, type StoreSuite, TIMEOUT_MS } from './fixture.js';

/**
 * The one test of the declaration (`capabilities`), registered for every
 * store: each optional capability has all its methods when declared and
 * none when not, so the suite runs the tests of exactly what the store has
 * and the manager falls back on exactly what it lacks.
 */
export function declarationTest(
  { test }: StoreSuite,
  capabilities: readonly StoreCapability[],
): void {
  test('has exactly the optional capabilities it declares, each with all its methods', ({
    store,
  }) => {
    const declared = new Set<string>(capabilities);
    const unknown = [...declared].filter((name) => !Object.hasOwn(capabilityMethods, name));
    assert.ok(
      unknown.length === 0,
      `${unknown.join(', ')}: no capability of Store (${Object.keys(capabilityMethods).join(', ')})`,
    );
    const methodsWhere = (keep: (capability: string, method: string) => boolean) =>
      Object.fromEntries(
        Object.entries(capabilityMethods).map(([capability, methods]) => [
          capability,
          methods.filter((method) => keep(capability, method)),
        ]),
      );
    const has = methodsWhere((_, method) => typeof Reflect.get(store, method) === 'function');
    same(
      has,
      methodsWhere((capability) => declared.has(capability)),
      `${store.name} declares [${[...declared].join(', ')}] and has ${JSON.stringify(has)}`,
    );
  });
}

/** The tests of each optional capability, by its name. */
const testsOf: {
  [C in StoreCapability]: (suite: StoreSuite<Store & CapabilityInterfaces[C]>) => void;
} = {
  idempotency: idempotencyTests,
  rateLimits: rateLimitTests,
  listing: listingTests,
  events: eventTests,
  syncRequests: syncRequestTests,
};

/**
 * The optional capabilities of `Store` as tests: a `describe` for each
 * capability in `capabilities`, none for the others (the declaration
 * itself is checked by `declarationTest`). Registered by
 * `describeStoreConformance`.
 */
export function capabilityTests(suite: StoreSuite, capabilities: readonly StoreCapability[]): void {
  for (const capability of new Set(capabilities)) {
    if (Object.hasOwn(testsOf, capability)) {
      suite.describe(capability, () => registerFor(suite, capability));
    }
  }
}

function registerFor<C extends StoreCapability>(suite: StoreSuite, capability: C): void {
  testsOf[capability](capabilitySuite(suite, capability));
}

/** `IdempotencyKeys`: claims, outcomes and releases of keys, per session, for a window. */
function idempotencyTests({ test }: StoreSuite<Store & CapabilityInterfaces['idempotency']>): void {
  const FP = 'a'.repeat(64);

  test('claims a new key once, then answers it pending, then done with its outcome', async ({
    store,
    t0,
    created,
  }) => {
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

  test('keeps keys of different sessions and different keys apart', async ({
    store,
    t0,
    created,
  }) => {
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

  test('forgets a released claim, so the call runs afresh; a done record stays', async ({
    store,
    t0,
    created,
  }) => {
    const { sessionId } = await created(t0);
    await store.claimIdempotencyKey(sessionId, 'k', FP, t0);
    await store.releaseIdempotencyKey(sessionId, 'k');
    same(await store.claimIdempotencyKey(sessionId, 'k', FP, t0), { state: 'new' });
    await store.completeIdempotencyKey(sessionId, 'k', 'out', t0);
    await store.releaseIdempotencyKey(sessionId, 'k');
    assert.equal((await store.claimIdempotencyKey(sessionId, 'k', FP, t0)).state, 'done');
  });

  test('records nothing for an absent, expired or deleted session', async ({
    store,
    t0,
    created,
  }) => {
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

  test('lets a record expire after idempotencyWindowMs', async ({ store, t0, created }) => {
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
}

/** `SharedRateLimits` on one node (across nodes: `nodeTests`). */
function rateLimitTests({ test }: StoreSuite<Store & CapabilityInterfaces['rateLimits']>): void {
  test('allows `limit` points per key in a window, then refuses until it resets', async ({
    store,
  }) => {
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
}

/** `SessionListing`: every user's live sessions. */
function listingTests({ test }: StoreSuite<Store & CapabilityInterfaces['listing']>): void {
  test('lists up to `limit` live sessions of all users, pinned ones included, most recent first', async ({
    store,
    t0,
    created,
  }) => {
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
}

/** `CrossNodeEvents` on one node (what another node did: `nodeTests`). */
function eventTests({ test }: StoreSuite<Store & CapabilityInterfaces['events']>): void {
  test('never delivers the store’s own changes, and unsubscribes', async ({
    store,
    t0,
    created,
  }) => {
    const heard: StoreEvent[] = [];
    const unsubscribe = store.subscribe((event) => heard.push(event));
    const own = await created(t0);
    await store.rotate(own.sessionId, newSessionId(own.sessionId), t0 + 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    same(heard, []);
    unsubscribe();
    unsubscribe();
  });
}

/** `SyncRequests`: the synchronous forms of `addRequest` and `removeRequest`. */
function syncRequestTests({
  test,
}: StoreSuite<Store & CapabilityInterfaces['syncRequests']>): void {
  test('adds and removes requests at once, as addRequest and removeRequest do', async ({
    store,
    t0,
    created,
    snapshot,
  }) => {
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

  test('answers undefined for an unknown or expired session, and changes nothing', async ({
    store,
    t0,
    created,
  }) => {
    const id = randomUUID();
    assert.equal(store.addRequestSync(id, 'r1', t0), undefined);
    store.removeRequestSync(id, 'r1', t0);
    assert.equal(await store.get(id, t0), undefined);
    const stale = await created(t0);
    const late = t0 + TIMEOUT_MS + 1;
    assert.equal(store.addRequestSync(stale.sessionId, 'r1', late), undefined);
    assert.equal(await store.get(stale.sessionId, late), undefined);
  });
}
