import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidMetadataError, MorganError } from './errors.js';
import { type SessionEndedEvent, SessionManager, sessionManagerDefaults } from './manager.js';
import type { Session } from './session.js';
import { MemoryStore } from './store/memory.js';
import type { Store } from './store/store.js';

const T0 = 1_700_000_000_000;
const TIMEOUT_MS = 60_000;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A manager on a hand-driven clock: `clock.now` is what the manager reads. */
function setup(options: ConstructorParameters<typeof SessionManager>[0] = {}) {
  const clock = { now: T0 };
  const manager = new SessionManager({
    sessionTimeoutMs: TIMEOUT_MS,
    now: () => clock.now,
    ...options,
  });
  return { manager, clock };
}

function expectCode(fn: () => unknown, code: ErrorCode, text?: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MorganError);
    expect((error as MorganError).code).toBe(code);
    if (text !== undefined) expect((error as Error).message).toContain(text);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('SessionManager options', () => {
  it('has the documented defaults', () => {
    const manager = new SessionManager();
    expect(sessionManagerDefaults).toMatchObject({
      sessionTimeoutMs: 3_600_000,
      cleanupIntervalMs: 300_000,
      maxConcurrentRequests: 100,
      maxMetadataBytes: 16_384,
      drainTimeoutMs: 10_000,
    });
    expect(manager.sessionTimeoutMs).toBe(3_600_000);
    expect(manager.cleanupIntervalMs).toBe(300_000);
    expect(manager.maxConcurrentRequests).toBe(100);
    expect(manager.maxMetadataBytes).toBe(16_384);
    expect(manager.drainTimeoutMs).toBe(10_000);
    expect(manager.store).toBeInstanceOf(MemoryStore);
    expect(manager.capacity.maxConcurrent).toBe(100);
  });

  it('takes every option', () => {
    const store = new MemoryStore();
    const manager = new SessionManager({
      sessionTimeoutMs: 1000,
      cleanupIntervalMs: 2000,
      maxConcurrentRequests: 3,
      maxQueuedRequests: 4,
      maxQueueWaitMs: 5,
      maxMetadataBytes: 6,
      drainTimeoutMs: 7,
      store,
    });
    expect(manager).toMatchObject({
      sessionTimeoutMs: 1000,
      cleanupIntervalMs: 2000,
      maxConcurrentRequests: 3,
      maxMetadataBytes: 6,
      drainTimeoutMs: 7,
      store,
    });
    expect(manager.capacity).toMatchObject({ maxConcurrent: 3, maxQueue: 4, maxQueueWaitMs: 5 });
  });

  it('configures its store with the session timeout, the request-rate window and the idempotency window', () => {
    const store = new MemoryStore();
    const settings: unknown[] = [];
    store.configure = (value) => settings.push(value);
    new SessionManager({ store, sessionTimeoutMs: 1234 });
    new SessionManager({ store, requestRateLimit: { limit: 5, windowMs: 30_000 } });
    new SessionManager({ store, requestRateLimit: false, idempotencyWindowMs: 1_000 });
    expect(settings).toEqual([
      { sessionTimeoutMs: 1234, requestWindowMs: 60_000, idempotencyWindowMs: 300_000 },
      { sessionTimeoutMs: 60 * 60 * 1000, requestWindowMs: 30_000, idempotencyWindowMs: 300_000 },
      { sessionTimeoutMs: 60 * 60 * 1000, requestWindowMs: undefined, idempotencyWindowMs: 1_000 },
    ]);
  });

  it.each([
    'sessionTimeoutMs',
    'cleanupIntervalMs',
    'maxConcurrentRequests',
    'maxMetadataBytes',
  ] as const)('rejects a zero, negative or non-finite %s', (name) => {
    for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectCode(() => new SessionManager({ [name]: value }), ErrorCode.INVALID_CONFIG, name);
    }
  });

  // Node runs a timer longer than 2^31 - 1 ms after 1 ms instead, so such a
  // cleanup interval would sweep continuously and such a drain would not wait.
  it('rejects timer options that Node cannot wait for', () => {
    const tooLong = 2 ** 31;
    expectCode(
      () => new SessionManager({ cleanupIntervalMs: tooLong }),
      ErrorCode.INVALID_CONFIG,
      'cleanupIntervalMs',
    );
    for (const value of [-1, Number.NaN, tooLong]) {
      expectCode(
        () => new SessionManager({ drainTimeoutMs: value }),
        ErrorCode.INVALID_CONFIG,
        'drainTimeoutMs',
      );
    }
    expect(new SessionManager({ drainTimeoutMs: 0, cleanupIntervalMs: tooLong - 1 })).toMatchObject(
      {
        drainTimeoutMs: 0,
        cleanupIntervalMs: tooLong - 1,
      },
    );
  });
});

describe('createSession', () => {
  it('creates a session with a UUID v4 and the given fields', async () => {
    const { manager } = setup();
    const session = await manager.createSession({
      userId: 'u1',
      conversationId: 'c1',
      metadata: { plan: 'pro', tags: ['a'], nested: { n: 1 } },
    });
    expect(session.sessionId).toMatch(UUID_V4);
    expect(session).toEqual({
      sessionId: session.sessionId,
      userId: 'u1',
      conversationId: 'c1',
      createdAt: new Date(T0),
      lastActivity: new Date(T0),
      metadata: { plan: 'pro', tags: ['a'], nested: { n: 1 } },
      metadataVersion: 1,
      connectionCount: 0,
      activeRequests: [],
    });
    expect(await manager.getSession(session.sessionId)).toEqual(session);
  });

  it('leaves out what was not given, and defaults metadata to {}', async () => {
    const { manager } = setup();
    const session = await manager.createSession();
    expect('userId' in session).toBe(false);
    expect('conversationId' in session).toBe(false);
    expect(session.metadata).toEqual({});
  });

  it('gives every session its own id', async () => {
    const { manager } = setup();
    const sessions = await Promise.all(Array.from({ length: 200 }, () => manager.createSession()));
    expect(new Set(sessions.map((s) => s.sessionId)).size).toBe(200);
  });

  it('rejects bad user and conversation ids and stores nothing', async () => {
    const { manager } = setup();
    for (const input of [{ userId: '' }, { userId: 'x'.repeat(257) }, { conversationId: 42 }]) {
      await expect(manager.createSession(input as never)).rejects.toMatchObject({
        code: ErrorCode.INVALID_REQUEST,
      });
    }
    expect(await manager.getActiveSessionCount()).toBe(0);
    expect((await manager.getMetrics()).totalSessionsCreated).toBe(0);
  });

  it('rejects bad or oversize metadata and stores nothing', async () => {
    const { manager } = setup({ maxMetadataBytes: 32 });
    await expect(
      manager.createSession({ metadata: { f: (() => 1) as never } }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_METADATA,
    });
    const big = manager.createSession({ metadata: { text: 'x'.repeat(40) } });
    await expect(big).rejects.toBeInstanceOf(InvalidMetadataError);
    await expect(big).rejects.toMatchObject({ code: ErrorCode.METADATA_TOO_LARGE });
    expect(await manager.getActiveSessionCount()).toBe(0);
  });

  it('announces the session with created', async () => {
    const { manager } = setup();
    const seen: Session[] = [];
    manager.on('created', (session) => seen.push(session));
    const session = await manager.createSession({ userId: 'u1' });
    expect(seen).toEqual([session]);
  });
});

describe('reading sessions', () => {
  it('getSession answers undefined for unknown ids and after expiry, and does not touch', async () => {
    const { manager, clock } = setup();
    expect(await manager.getSession('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    const { sessionId } = await manager.createSession();
    clock.now = T0 + TIMEOUT_MS;
    expect((await manager.getSession(sessionId))?.lastActivity).toEqual(new Date(T0));
    clock.now = T0 + TIMEOUT_MS + 1;
    expect(await manager.getSession(sessionId)).toBeUndefined();
  });

  it('getSessionByUser answers the most recently active session of the user', async () => {
    const { manager, clock } = setup();
    expect(await manager.getSessionByUser('u1')).toBeUndefined();
    const a = await manager.createSession({ userId: 'u1' });
    clock.now += 10;
    const b = await manager.createSession({ userId: 'u1' });
    await manager.createSession({ userId: 'u2' });
    expect((await manager.getSessionByUser('u1'))?.sessionId).toBe(b.sessionId);
    clock.now += 10;
    await manager.touch(a.sessionId);
    expect((await manager.getSessionByUser('u1'))?.sessionId).toBe(a.sessionId);
  });

  it('listSessionsByUser lists live sessions, most recent first', async () => {
    const { manager, clock } = setup();
    const old = await manager.createSession({ userId: 'u1' });
    clock.now += 1000;
    const a = await manager.createSession({ userId: 'u1' });
    clock.now += 1000;
    const b = await manager.createSession({ userId: 'u1' });
    const deleted = await manager.createSession({ userId: 'u1' });
    await manager.createSession({ userId: 'u2' });
    await manager.deleteSession(deleted.sessionId);
    clock.now = T0 + TIMEOUT_MS + 1;
    const listed = await manager.listSessionsByUser('u1');
    expect(listed.map((s) => s.sessionId)).toEqual([b.sessionId, a.sessionId]);
    expect(listed.map((s) => s.sessionId)).not.toContain(old.sessionId);
    expect(await manager.listSessionsByUser('nobody')).toEqual([]);
  });
});

describe('touch', () => {
  it('moves lastActivity and keeps the session alive for another timeout', async () => {
    const { manager, clock } = setup();
    const { sessionId } = await manager.createSession();
    clock.now = T0 + 50_000;
    const touched = await manager.touch(sessionId);
    expect(touched?.lastActivity).toEqual(new Date(T0 + 50_000));
    expect(touched?.createdAt).toEqual(new Date(T0));
    clock.now = T0 + 50_000 + TIMEOUT_MS;
    expect(await manager.getSession(sessionId)).toBeDefined();
    clock.now += 1;
    expect(await manager.getSession(sessionId)).toBeUndefined();
    expect(await manager.touch(sessionId)).toBeUndefined();
    expect(await manager.getSession(sessionId)).toBeUndefined();
  });

  it('answers undefined for an unknown id', async () => {
    const { manager } = setup();
    expect(await manager.touch('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });
});

describe('deleteSession', () => {
  it('deletes at once, answers true once, and announces deleted', async () => {
    const { manager } = setup();
    const events: SessionEndedEvent[] = [];
    manager.on('deleted', (event) => events.push(event));
    const withUser = await manager.createSession({ userId: 'u1' });
    const anonymous = await manager.createSession();
    expect(await manager.deleteSession(withUser.sessionId)).toBe(true);
    expect(await manager.getSession(withUser.sessionId)).toBeUndefined();
    expect(await manager.deleteSession(withUser.sessionId)).toBe(false);
    expect(await manager.deleteSession(anonymous.sessionId)).toBe(true);
    expect(events).toEqual([
      { sessionId: withUser.sessionId, userId: 'u1', origin: 'local' },
      { sessionId: anonymous.sessionId, origin: 'local' },
    ]);
    expect((await manager.getMetrics()).totalSessionsDeleted).toBe(2);
  });

  it('leaves every other session as it was', async () => {
    const { manager } = setup();
    const keep = await manager.createSession({ userId: 'u1', metadata: { k: [1, 2] } });
    const drop = await manager.createSession({ userId: 'u1' });
    await manager.deleteSession(drop.sessionId);
    expect(await manager.getSession(keep.sessionId)).toEqual(keep);
    expect(await manager.listSessionsByUser('u1')).toEqual([keep]);
  });
});

describe('isolation', () => {
  it('mutating the metadata passed in never changes the stored session', async () => {
    const { manager } = setup();
    const metadata = { nested: { list: [1, 2] }, name: 'a' };
    const session = await manager.createSession({ metadata });
    metadata.nested.list.push(3);
    metadata.name = 'b';
    expect((await manager.getSession(session.sessionId))?.metadata).toEqual({
      nested: { list: [1, 2] },
      name: 'a',
    });
    expect(session.metadata).toEqual({ nested: { list: [1, 2] }, name: 'a' });
  });

  it('mutating a returned session or an event payload never changes the stored session', async () => {
    const { manager } = setup();
    let fromEvent: Session | undefined;
    manager.on('created', (session) => {
      fromEvent = session;
    });
    const session = await manager.createSession({ metadata: { nested: { n: 1 } } });
    for (const copy of [session, fromEvent, await manager.getSession(session.sessionId)]) {
      if (copy === undefined) throw new Error('missing session');
      const writable = copy as { -readonly [K in keyof Session]: Session[K] };
      (writable.metadata.nested as { n: number }).n = 99;
      writable.metadata.added = true;
      (writable.activeRequests as string[]).push('fake');
      writable.lastActivity.setTime(0);
      writable.connectionCount = 7;
      writable.userId = 'someone';
    }
    expect(await manager.getSession(session.sessionId)).toEqual({
      sessionId: session.sessionId,
      createdAt: new Date(T0),
      lastActivity: new Date(T0),
      metadata: { nested: { n: 1 } },
      metadataVersion: 1,
      connectionCount: 0,
      activeRequests: [],
    });
  });
});

describe('counts and metrics', () => {
  it('reports every metric', async () => {
    const { manager, clock } = setup({ maxConcurrentRequests: 7 });
    const a = await manager.createSession();
    await manager.createSession();
    const c = await manager.createSession();
    await manager.deleteSession(c.sessionId);
    const request = await manager.beginRequest(a.sessionId);
    expect(manager.capacity.tryAcquire()).toBe(true);
    manager.capacity.recordShed();
    expect(await manager.getMetrics()).toEqual({
      activeSessions: 2,
      totalSessionsCreated: 3,
      totalSessionsExpired: 0,
      totalSessionsCleaned: 0,
      totalSessionsDeleted: 1,
      sessionTimeoutMinutes: 1,
      maxConcurrentRequests: 7,
      activeRequests: 1,
      inFlightRequests: 1,
      capacityLimit: 7,
      totalRequestsShed: 1,
    });
    await request.end();
    manager.capacity.release();
    clock.now = T0 + TIMEOUT_MS + 1;
    expect(await manager.getMetrics()).toMatchObject({
      activeSessions: 0,
      totalSessionsExpired: 2,
      totalSessionsCleaned: 0,
      activeRequests: 0,
      inFlightRequests: 0,
    });
  });

  it('getActiveSessionCount leaves out expired sessions and announces them', async () => {
    const { manager, clock } = setup();
    const expired: string[] = [];
    manager.on('expired', (event) => expired.push(event.sessionId));
    const old = await manager.createSession();
    clock.now += 10_000;
    await manager.createSession();
    expect(await manager.getActiveSessionCount()).toBe(2);
    clock.now = T0 + TIMEOUT_MS + 1;
    expect(await manager.getActiveSessionCount()).toBe(1);
    expect(expired).toEqual([old.sessionId]);
  });

  it('reports sessionTimeoutMinutes from the timeout', async () => {
    const { manager } = setup({ sessionTimeoutMs: 90_000 });
    expect((await manager.getMetrics()).sessionTimeoutMinutes).toBe(1.5);
  });
});

describe('remote store events', () => {
  it('re-emits other nodes’ events with origin remote while started', async () => {
    let listener: ((event: { type: 'deleted' | 'expired'; sessionId: string }) => void) | undefined;
    const store: Store = new MemoryStore();
    store.subscribe = (fn) => {
      listener = fn;
      return () => {
        listener = undefined;
      };
    };
    const { manager } = setup({ store });
    const seen: unknown[] = [];
    manager.on('deleted', (event) => seen.push(['deleted', event]));
    manager.on('expired', (event) => seen.push(['expired', event]));
    expect(listener).toBeUndefined();
    manager.start();
    listener?.({ type: 'deleted', sessionId: 's1' });
    listener?.({ type: 'expired', sessionId: 's2' });
    expect(seen).toEqual([
      ['deleted', { sessionId: 's1', origin: 'remote' }],
      ['expired', { sessionId: 's2', origin: 'remote' }],
    ]);
    await manager.stop();
    expect(listener).toBeUndefined();
  });
});
