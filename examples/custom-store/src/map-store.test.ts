// The published conformance suite, run with node:test against MapStore:
// it declares listing, its one optional capability, so the suite registers
// the required core's tests and listing's (and checks that the declaration
// matches the store's methods). Then what a SessionManager does with it.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { SessionManager, type StoreFallbackWarning } from '@morgan/session-server';
import { describeStoreConformance } from '@morgan/session-server/testing';
import { MapStore } from './map-store.js';

describeStoreConformance(
  { describe, test, beforeEach, afterEach },
  { name: 'MapStore', capabilities: ['listing'], createStore: () => new MapStore() },
);

describe('a SessionManager on MapStore', () => {
  test('falls back on this node for what the store lacks, and says so once at start-up', async () => {
    const manager = new SessionManager({ store: new MapStore() });
    const warnings: StoreFallbackWarning[] = [];
    manager.on('warning', (warning) => warnings.push(warning));
    manager.start();
    try {
      assert.deepEqual(manager.storeFallbacks, ['idempotency', 'rateLimits', 'events']);
      assert.equal(warnings.length, 1);
      assert.match(
        warnings[0]?.message ?? '',
        /^The map store lacks idempotency, rateLimits, events/,
      );

      const session = await manager.createSession({ userId: 'ada' });
      assert.equal((await manager.listSessions(10))[0]?.sessionId, session.sessionId);
      const claim = await manager.claimIdempotencyKey(session.sessionId, 'key-1', 'fingerprint');
      assert.deepEqual(claim, { state: 'new' });
      await manager.completeIdempotencyKey(session.sessionId, 'key-1', 'outcome');
      assert.deepEqual(await manager.claimIdempotencyKey(session.sessionId, 'key-1', 'x'), {
        state: 'done',
        fingerprint: 'fingerprint',
        outcome: 'outcome',
      });
    } finally {
      await manager.stop();
    }
  });
});
