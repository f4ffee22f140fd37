// Versioned metadata: `updateMetadata` never loses a write however updates
// interleave, on one node (any interleaving the scheduler picks) and on two
// nodes sharing a real Redis; `ifVersion` makes read-decide-write safe.
import { randomBytes } from 'node:crypto';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, VersionConflictError } from './errors.js';
import { SessionManager } from './manager.js';
import { type JsonObject, mergePatch } from './metadata.js';
import { RedisStore } from './redis/redis-store.js';
import { MemoryStore } from './store/memory.js';
import type { Store } from './store/store.js';

/** A MemoryStore whose reads and writes wait for the fast-check scheduler, as a remote store would. */
function scheduledStore(s: fc.Scheduler, inner: MemoryStore): Store {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      if (property !== 'get' && property !== 'replaceMetadata') return fn.bind(target);
      return async (...args: unknown[]) => {
        await s.schedule(Promise.resolve(), String(property));
        return fn.apply(target, args);
      };
    },
  });
}

describe('mergePatch (RFC 7396)', () => {
  it('removes keys set to null, merges objects, replaces the rest, and changes neither argument', () => {
    const target: JsonObject = { a: 1, b: { c: 2, d: 3 }, e: [1, 2], f: 'x' };
    const patch: JsonObject = { a: null, b: { c: null, g: 4 }, e: [3], h: { i: null } };
    expect(mergePatch(target, patch)).toEqual({ b: { d: 3, g: 4 }, e: [3], f: 'x', h: {} });
    expect(target).toEqual({ a: 1, b: { c: 2, d: 3 }, e: [1, 2], f: 'x' });
    expect(patch).toEqual({ a: null, b: { c: null, g: 4 }, e: [3], h: { i: null } });
  });
});

describe('updateMetadata on one node', () => {
  it('bumps the version, touches, and 409s a stale ifVersion without changing anything', async () => {
    let now = 1_700_000_000_000;
    const manager = new SessionManager({ now: () => now });
    const session = await manager.createSession({ metadata: { cart: [1] } });
    expect(session.metadataVersion).toBe(1);
    now += 1_000;
    const updated = await manager.updateMetadata(session.sessionId, {
      cart: [1, 2],
      theme: 'dark',
    });
    expect(updated).toMatchObject({
      metadata: { cart: [1, 2], theme: 'dark' },
      metadataVersion: 2,
    });
    expect(updated.lastActivity.getTime()).toBe(now);
    const again = await manager.updateMetadata(
      session.sessionId,
      { theme: null },
      { ifVersion: 2 },
    );
    expect(again).toMatchObject({ metadata: { cart: [1, 2] }, metadataVersion: 3 });
    const stale = manager.updateMetadata(session.sessionId, { cart: [] }, { ifVersion: 2 });
    await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
    await expect(stale).rejects.toMatchObject({
      code: ErrorCode.VERSION_CONFLICT,
      currentVersion: 3,
    });
    expect(await manager.getSession(session.sessionId)).toMatchObject({
      metadata: { cart: [1, 2] },
      metadataVersion: 3,
    });
    // A rotation keeps the metadata and its version.
    const rotated = await manager.rotateSession(session.sessionId);
    expect(rotated).toMatchObject({ metadata: { cart: [1, 2] }, metadataVersion: 3 });
  });

  it('refuses a bad patch or a result past the limits, and an unknown session, changing nothing', async () => {
    const manager = new SessionManager({ maxMetadataBytes: 64 });
    const { sessionId } = await manager.createSession({ metadata: { a: 1 } });
    await expect(
      manager.updateMetadata(sessionId, [] as unknown as JsonObject),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_METADATA });
    await expect(manager.updateMetadata(sessionId, { big: 'x'.repeat(100) })).rejects.toMatchObject(
      { code: ErrorCode.METADATA_TOO_LARGE },
    );
    expect(await manager.getSession(sessionId)).toMatchObject({
      metadata: { a: 1 },
      metadataVersion: 1,
    });
    await expect(
      manager.updateMetadata('00000000-0000-4000-8000-000000000000', { a: 2 }),
    ).rejects.toMatchObject({ code: ErrorCode.SESSION_NOT_FOUND });
  });

  it('never loses a write, whatever the interleaving of concurrent updates', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.jsonValue({ maxDepth: 1 }), { minLength: 2, maxLength: 8 }),
        async (s, values) => {
          const inner = new MemoryStore();
          const manager = new SessionManager({ store: scheduledStore(s, inner) });
          const { sessionId } = await s.waitFor(
            manager.createSession({ metadata: { kept: true } }),
          );
          const updates = values.map((value, i) =>
            manager.updateMetadata(sessionId, { [`k${i}`]: value as JsonObject[string] }),
          );
          await s.waitFor(Promise.all(updates));
          const record = await inner.get(sessionId, Date.now());
          const expected: JsonObject = { kept: true };
          values.forEach((value, i) => {
            // A patch value of null removes the key: it was never there.
            if (value !== null)
              expected[`k${i}`] = mergePatch({}, { v: value as JsonObject[string] }).v ?? null;
          });
          expect(JSON.parse(record?.metadata ?? '{}')).toEqual(expected);
          expect(record?.metadataVersion).toBe(1 + values.length);
        },
      ),
      { numRuns: 100, seed: 42 },
    );
  });

  it('with the same ifVersion, exactly one of concurrent updates wins', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 6 }), async (s, count) => {
        const manager = new SessionManager({ store: scheduledStore(s, new MemoryStore()) });
        const { sessionId } = await s.waitFor(manager.createSession());
        const results = await s.waitFor(
          Promise.allSettled(
            Array.from({ length: count }, (_, i) =>
              manager.updateMetadata(sessionId, { winner: i }, { ifVersion: 1 }),
            ),
          ),
        );
        const won = results.filter((result) => result.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const result of results) {
          if (result.status === 'rejected')
            expect(result.reason).toBeInstanceOf(VersionConflictError);
        }
      }),
      { numRuns: 100, seed: 42 },
    );
  });
});

describe('updateMetadata on two nodes sharing a real Redis', () => {
  let redis: RedisTestServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('never loses a write when both nodes update the same session at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 2, max: 12 }),
        async (onA, onB) => {
          const keyPrefix = `${redis.keyPrefix}${randomBytes(4).toString('hex')}:`;
          const node = (nodeId: string) =>
            new SessionManager({ store: new RedisStore({ url: redis.url, keyPrefix, nodeId }) });
          const a = node('a');
          const b = node('b');
          try {
            const { sessionId } = await a.createSession({ metadata: { kept: true } });
            await Promise.all([
              ...Array.from({ length: onA }, (_, i) =>
                a.updateMetadata(sessionId, { [`a${i}`]: i }),
              ),
              ...Array.from({ length: onB }, (_, i) =>
                b.updateMetadata(sessionId, { [`b${i}`]: i }),
              ),
            ]);
            const session = await b.getSession(sessionId);
            const expected: JsonObject = { kept: true };
            for (let i = 0; i < onA; i += 1) expected[`a${i}`] = i;
            for (let i = 0; i < onB; i += 1) expected[`b${i}`] = i;
            expect(session?.metadata).toEqual(expected);
            expect(session?.metadataVersion).toBe(1 + onA + onB);
          } finally {
            await Promise.all([a.stop({ drainTimeoutMs: 0 }), b.stop({ drainTimeoutMs: 0 })]);
          }
        },
      ),
      { numRuns: 10, seed: 42 },
    );
  });
});
