import { describe, expect, it } from 'vitest';
import { ErrorCode, SessionNotFoundError } from './errors.js';
import { SessionManager, type TrackedRequest } from './manager.js';
import { MemoryStore } from './store/memory.js';

const T0 = 1_700_000_000_000;
const TIMEOUT_MS = 60_000;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

function setup(options: ConstructorParameters<typeof SessionManager>[0] = {}) {
  const clock = { now: T0 };
  const manager = new SessionManager({
    sessionTimeoutMs: TIMEOUT_MS,
    now: () => clock.now,
    ...options,
  });
  return { manager, clock };
}

async function activeRequestsOf(manager: SessionManager, sessionId: string) {
  return (await manager.getSession(sessionId))?.activeRequests;
}

describe('trackRequest with a callback', () => {
  it('lists the request while it runs and returns its value', async () => {
    const { manager, clock } = setup();
    const { sessionId } = await manager.createSession();
    clock.now = T0 + 100;
    const result = await manager.trackRequest(sessionId, async (request) => {
      expect(request.session.activeRequests).toEqual([request.requestId]);
      expect(await activeRequestsOf(manager, sessionId)).toEqual([request.requestId]);
      expect((await manager.getMetrics()).activeRequests).toBe(1);
      expect(manager.activeRequestCount).toBe(1);
      clock.now = T0 + 200;
      return 'answer';
    });
    expect(result).toBe('answer');
    expect(await activeRequestsOf(manager, sessionId)).toEqual([]);
    expect((await manager.getMetrics()).activeRequests).toBe(0);
    expect((await manager.getSession(sessionId))?.lastActivity).toEqual(new Date(T0 + 200));
  });

  it('accepts a synchronous callback', async () => {
    const { manager } = setup();
    const { sessionId } = await manager.createSession();
    expect(await manager.trackRequest(sessionId, () => 42)).toBe(42);
    expect(manager.activeRequestCount).toBe(0);
  });

  it('ends the request when the callback throws, and rethrows', async () => {
    const { manager } = setup();
    const { sessionId } = await manager.createSession();
    const failure = new Error('boom');
    await expect(
      manager.trackRequest(sessionId, () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await activeRequestsOf(manager, sessionId)).toEqual([]);
    expect(manager.activeRequestCount).toBe(0);
  });

  it('throws SessionNotFoundError for unknown and expired ids, without counting', async () => {
    const { manager, clock } = setup();
    let ran = false;
    const run = () => {
      ran = true;
    };
    const unknown = manager.trackRequest(UNKNOWN, run);
    await expect(unknown).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(unknown).rejects.toMatchObject({
      code: ErrorCode.SESSION_NOT_FOUND,
      sessionId: UNKNOWN,
    });
    const { sessionId } = await manager.createSession();
    clock.now = T0 + TIMEOUT_MS + 1;
    await expect(manager.trackRequest(sessionId, run)).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    await expect(manager.trackRequest(sessionId)).rejects.toBeInstanceOf(SessionNotFoundError);
    expect(ran).toBe(false);
    expect(manager.activeRequestCount).toBe(0);
    expect(await manager.getSession(sessionId)).toBeUndefined();
  });

  it('gives concurrent requests distinct ids and counts them exactly', async () => {
    const { manager } = setup();
    const a = await manager.createSession();
    const b = await manager.createSession();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ids: string[] = [];
    const runs = Array.from({ length: 60 }, (_, i) =>
      manager.trackRequest(i % 2 === 0 ? a.sessionId : b.sessionId, async (request) => {
        ids.push(request.requestId);
        await gate;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(new Set(ids).size).toBe(60);
    expect(manager.activeRequestCount).toBe(60);
    expect(await activeRequestsOf(manager, a.sessionId)).toHaveLength(30);
    expect(await activeRequestsOf(manager, b.sessionId)).toHaveLength(30);
    release();
    await Promise.all(runs);
    expect(manager.activeRequestCount).toBe(0);
    expect(await activeRequestsOf(manager, a.sessionId)).toEqual([]);
    expect(await activeRequestsOf(manager, b.sessionId)).toEqual([]);
  });
});

describe('trackRequest with await using', () => {
  it('tracks the request until the end of the block', async () => {
    const { manager } = setup();
    const { sessionId } = await manager.createSession();
    let requestId = '';
    {
      await using request = await manager.trackRequest(sessionId);
      requestId = request.requestId;
      expect(await activeRequestsOf(manager, sessionId)).toEqual([requestId]);
      expect(manager.activeRequestCount).toBe(1);
    }
    expect(requestId).not.toBe('');
    expect(await activeRequestsOf(manager, sessionId)).toEqual([]);
    expect(manager.activeRequestCount).toBe(0);
  });

  it('ends the request when the block throws', async () => {
    const { manager } = setup();
    const { sessionId } = await manager.createSession();
    const failure = new Error('boom');
    const block = async () => {
      await using request = await manager.trackRequest(sessionId);
      expect(request.session.activeRequests).toHaveLength(1);
      throw failure;
    };
    await expect(block()).rejects.toBe(failure);
    expect(await activeRequestsOf(manager, sessionId)).toEqual([]);
    expect(manager.activeRequestCount).toBe(0);
  });

  it('ending a request twice counts it once', async () => {
    const { manager } = setup();
    const { sessionId } = await manager.createSession();
    const other = await manager.beginRequest(sessionId);
    const request: TrackedRequest = await manager.beginRequest(sessionId);
    await request.end();
    await request.end();
    await request[Symbol.asyncDispose]();
    expect(manager.activeRequestCount).toBe(1);
    expect(await activeRequestsOf(manager, sessionId)).toEqual([other.requestId]);
    await other.end();
    expect(manager.activeRequestCount).toBe(0);
  });
});

describe('requests keep sessions alive', () => {
  it('a session with a request in flight never expires; idle time counts from its end', async () => {
    const { manager, clock } = setup();
    const { sessionId } = await manager.createSession();
    const request = await manager.beginRequest(sessionId);
    clock.now = T0 + 10 * TIMEOUT_MS;
    expect(await manager.cleanup()).toBe(0);
    expect(await manager.getSession(sessionId)).toBeDefined();
    await request.end();
    clock.now += TIMEOUT_MS;
    expect(await manager.cleanup()).toBe(0);
    clock.now += 1;
    expect(await manager.cleanup()).toBe(1);
    expect(await manager.getSession(sessionId)).toBeUndefined();
  });
});

describe('deleting while requests are in flight', () => {
  it('deletes at once, leaves other sessions intact, and finishing requests do not resurrect', async () => {
    const { manager } = setup();
    const doomed = await manager.createSession({ userId: 'u1', metadata: { a: 1 } });
    const other = await manager.createSession({ userId: 'u1', metadata: { b: 2 } });
    const doomedRequests = [
      await manager.beginRequest(doomed.sessionId),
      await manager.beginRequest(doomed.sessionId),
    ];
    const otherRequest = await manager.beginRequest(other.sessionId);
    const otherBefore = await manager.getSession(other.sessionId);

    expect(await manager.deleteSession(doomed.sessionId)).toBe(true);
    expect(await manager.getSession(doomed.sessionId)).toBeUndefined();
    expect(await manager.getSession(other.sessionId)).toEqual(otherBefore);
    expect(otherBefore?.activeRequests).toEqual([otherRequest.requestId]);

    for (const request of doomedRequests) await request.end();
    expect(await manager.getSession(doomed.sessionId)).toBeUndefined();
    expect(await manager.listSessionsByUser('u1')).toEqual([otherBefore]);
    expect(manager.activeRequestCount).toBe(1);
    expect(await manager.getActiveSessionCount()).toBe(1);
    await expect(manager.trackRequest(doomed.sessionId)).rejects.toBeInstanceOf(
      SessionNotFoundError,
    );
    await otherRequest.end();
    expect(manager.activeRequestCount).toBe(0);
  });
});

describe('store failures', () => {
  it('a failing addRequest is rethrown and not counted', async () => {
    const store = new MemoryStore();
    const { manager } = setup({ store });
    const { sessionId } = await manager.createSession();
    const failure = new Error('store down');
    store.addRequest = () => Promise.reject(failure);
    await expect(manager.trackRequest(sessionId, () => 1)).rejects.toBe(failure);
    expect(manager.activeRequestCount).toBe(0);
  });

  it('a failing removeRequest is reported as error and still ends the request', async () => {
    const store = new MemoryStore();
    const { manager } = setup({ store });
    const errors: Error[] = [];
    manager.on('error', (error) => errors.push(error));
    const { sessionId } = await manager.createSession();
    const failure = new Error('store down');
    store.removeRequest = () => Promise.reject(failure);
    expect(await manager.trackRequest(sessionId, () => 'done')).toBe('done');
    expect(errors).toEqual([failure]);
    expect(manager.activeRequestCount).toBe(0);
    expect(await manager.drain(0)).toBe(true);
  });
});

describe('connections', () => {
  it('counts open connections exactly, never below zero, and pins the session', async () => {
    const { manager, clock } = setup();
    const { sessionId } = await manager.createSession();
    expect((await manager.addConnection(sessionId)).connectionCount).toBe(1);
    expect((await manager.addConnection(sessionId)).connectionCount).toBe(2);
    clock.now = T0 + 10 * TIMEOUT_MS;
    expect(await manager.cleanup()).toBe(0);
    await manager.removeConnection(sessionId);
    expect((await manager.getSession(sessionId))?.connectionCount).toBe(1);
    await manager.removeConnection(sessionId);
    await manager.removeConnection(sessionId);
    expect((await manager.getSession(sessionId))?.connectionCount).toBe(0);
    expect((await manager.getSession(sessionId))?.lastActivity).toEqual(new Date(clock.now));
  });

  it('rejects a connection to an unknown session', async () => {
    const { manager } = setup();
    await expect(manager.addConnection(UNKNOWN)).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(manager.removeConnection(UNKNOWN)).resolves.toBeUndefined();
  });
});

describe("a tracked request's session snapshot", () => {
  it('is built once, on first read, from what the store answered', async () => {
    const { manager, clock } = setup();
    const { sessionId } = await manager.createSession({ userId: 'u1', metadata: { plan: 'pro' } });
    clock.now = T0 + 250;
    const request = (await manager.beginRequest(sessionId)) as TrackedRequest;
    expect(request.sessionId).toBe(sessionId);
    const snapshot = request.session;
    expect(request.session).toBe(snapshot);
    expect(snapshot).toEqual({
      sessionId,
      userId: 'u1',
      createdAt: new Date(T0),
      lastActivity: new Date(T0 + 250),
      metadata: { plan: 'pro' },
      metadataVersion: 1,
      connectionCount: 0,
      activeRequests: [request.requestId],
    });
    // A copy: the snapshot does not follow the store once read.
    await request.end();
    expect(snapshot.activeRequests).toEqual([request.requestId]);
    expect(await activeRequestsOf(manager, sessionId)).toEqual([]);
  });
});
