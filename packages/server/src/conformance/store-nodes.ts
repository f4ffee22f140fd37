import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { newSessionId } from '../session.js';
import { hasCapability, type StoreCapability } from '../store/capabilities.js';
import type { Store, StoreEvent } from '../store/store.js';
import { matches, same, until } from './assert.js';
import { capabilitySuite, type StoreSuite, snapshotIn, TIMEOUT_MS } from './fixture.js';

/** Makes a second node on the backing service of a test's store (`createPeer`). */
export type PeerFactory = (store: Store) => Store | Promise<Store>;

/**
 * What the nodes on one backing service share, as tests: the sessions
 * themselves, for every store with `createPeer`; rate limits and events
 * when the store declares them. Registered by `describeStoreConformance`
 * only when `createPeer` is given.
 */
export function nodeTests(
  suite: StoreSuite,
  capabilities: readonly StoreCapability[],
  createPeer: PeerFactory,
): void {
  /** Runs `body` with a second node on the store's backing service, configured, closed afterwards. */
  async function withPeer(store: Store, body: (peer: Store) => Promise<void>): Promise<void> {
    const peer = await createPeer(store);
    peer.configure({ sessionTimeoutMs: TIMEOUT_MS });
    try {
      await body(peer);
    } finally {
      await peer.close();
    }
  }

  suite.test('sees at once what another node wrote, rotated and ended', ({ store, t0, created }) =>
    withPeer(store, async (peer) => {
      const userId = `user-${randomUUID()}`;
      const value = await created(t0, { userId, metadata: '{"a":1}' });
      same(await snapshotIn(peer, value.sessionId, t0), value);
      await peer.addRequest(value.sessionId, 'r1', t0 + 1);
      await peer.addConnection(value.sessionId, t0 + 2);
      matches(await snapshotIn(store, value.sessionId, t0 + 2), {
        activeRequests: ['r1'],
        connectionCount: 1,
        lastActivity: t0 + 2,
      });
      matches(await peer.replaceMetadata(value.sessionId, '{"a":2}', 1, t0 + 3), {
        metadataVersion: 2,
      });
      assert.equal(await store.replaceMetadata(value.sessionId, '{"a":3}', 1, t0 + 4), 'conflict');
      same(
        (await peer.listByUser(userId, t0 + 4)).map((record) => record.sessionId),
        [value.sessionId],
      );
      const newId = newSessionId(value.sessionId);
      matches(await store.rotate(value.sessionId, newId, t0 + 5), { metadata: '{"a":2}' });
      assert.equal(await peer.get(value.sessionId, t0 + 5), undefined);
      matches(await peer.delete(newId), { sessionId: newId, userId });
      assert.equal(await store.get(newId, t0 + 5), undefined);
    }),
  );

  if (capabilities.includes('rateLimits')) {
    capabilitySuite(suite, 'rateLimits').test(
      'counts a rate limit’s name and key across nodes',
      ({ store }) =>
        withPeer(store, async (peer) => {
          assert.ok(hasCapability(peer, 'rateLimits'), 'the peer has no rateLimiter');
          const name = `conformance-${randomUUID()}`;
          const policy = { limit: 2, windowMs: 60_000 };
          const key = randomUUID();
          assert.equal((await store.rateLimiter(name, policy).consume(key)).allowed, true);
          assert.equal((await peer.rateLimiter(name, policy).consume(key)).allowed, true);
          assert.equal((await store.rateLimiter(name, policy).consume(key)).allowed, false);
        }),
    );
  }

  if (capabilities.includes('events')) {
    capabilitySuite(suite, 'events').test(
      'delivers what another node deleted, rotated and expired, in order',
      ({ store, t0, created }) =>
        withPeer(store, async (peer) => {
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
          }
        }),
    );
  }
}
