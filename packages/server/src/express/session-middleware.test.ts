import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import { createTestApp } from '../testing/express-app.js';
import { startHttpServer } from '../testing/http-server.js';
import { spyStore } from '../testing/spy-store.js';

/** vi.waitFor's default 1 s is short on a busy machine; what is awaited takes milliseconds. */
const WAIT = { timeout: 10_000 };

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

function newManager(options: SessionManagerOptions = {}): SessionManager {
  const manager = new SessionManager(options).start();
  managers.push(manager);
  return manager;
}

function get(url: string, sessionId?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (sessionId !== undefined) headers.set('X-Session-Id', sessionId);
  return fetch(url, { ...init, headers });
}

/** Sends a request over its own socket and destroys the socket on demand. */
function abortable(url: string, path: string, headers: Record<string, string>) {
  const { hostname, port } = new URL(url);
  const req = httpRequest({ hostname, port, path, method: 'GET', headers, agent: false });
  const outcome = new Promise<string>((resolve) => {
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    req.on('response', (res) => resolve(`status ${res.statusCode}`));
  });
  req.end();
  return { abort: () => req.destroy(), outcome };
}

const UNKNOWN_ID = '5b0f3c1e-8d2a-4f7b-9c3e-1a2b3c4d5e6f';

describe('sessionMiddleware: identification', () => {
  test('a valid X-Session-Id attaches the session, tracks the request and touches lastActivity', async () => {
    let clock = 1_000_000;
    const manager = newManager({ now: () => clock });
    const session = await manager.createSession({ userId: 'u1' });
    const { app, hold } = createTestApp(manager);
    await using http = await startHttpServer(app);

    clock += 5_000;
    const pending = get(`${http.url}/hold`, session.sessionId);
    await hold.arrived(1);
    const during = await manager.getSession(session.sessionId);
    expect(during?.activeRequests).toHaveLength(1);
    expect(during?.lastActivity.getTime()).toBe(1_005_000);
    expect(manager.activeRequestCount).toBe(1);

    clock += 1_000;
    hold.release();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      sessionId: session.sessionId,
      activeRequests: 1,
      error: null,
    });
    await vi.waitFor(() => expect(manager.activeRequestCount).toBe(0), WAIT);
    const after = await manager.getSession(session.sessionId);
    expect(after?.activeRequests).toEqual([]);
    expect(after?.lastActivity.getTime()).toBe(1_006_000);
    expect(manager.capacity.inFlight).toBe(0);
  });

  test('no header passes through with req.morgan.session undefined; requireSession answers 401', async () => {
    const manager = newManager();
    const { app } = createTestApp(manager);
    await using http = await startHttpServer(app);

    const open = await get(`${http.url}/hello`);
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ sessionId: null, activeRequests: null, error: null });

    const closed = await get(`${http.url}/private`);
    expect(closed.status).toBe(401);
    expect(closed.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await closed.json()).toEqual({
      error: { code: 'SESSION_REQUIRED', message: expect.any(String) },
    });
    expect(manager.capacity.inFlight).toBe(0);
  });

  test('a malformed id answers 400 INVALID_SESSION_ID without a store lookup', async () => {
    const store = spyStore();
    const manager = newManager({ store });
    const { app } = createTestApp(manager);
    await using http = await startHttpServer(app);
    const before = store.totalCalls();

    for (const bad of ['not-a-uuid', `${UNKNOWN_ID}x`, "' OR 1=1 --"]) {
      const res = await get(`${http.url}/hello`, bad);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: { code: 'INVALID_SESSION_ID', message: expect.any(String) },
      });
    }
    expect(store.totalCalls()).toBe(before);
  });

  test('an unknown, deleted or expired id answers 404 SESSION_NOT_FOUND', async () => {
    let clock = 0;
    const manager = newManager({ now: () => clock, sessionTimeoutMs: 60_000 });
    const { app } = createTestApp(manager);
    await using http = await startHttpServer(app);
    const deleted = await manager.createSession();
    await manager.deleteSession(deleted.sessionId);
    const expired = await manager.createSession();
    clock += 60_001;

    for (const id of [UNKNOWN_ID, deleted.sessionId, expired.sessionId]) {
      const res = await get(`${http.url}/hello`, id);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: { code: 'SESSION_NOT_FOUND', message: expect.any(String) },
      });
    }
    await vi.waitFor(() => expect(manager.capacity.inFlight).toBe(0), WAIT);
    expect(manager.activeRequestCount).toBe(0);
  });

  test('under deferErrorPaths a bad id passes on with req.morgan.error, and requireSession answers with it', async () => {
    const manager = newManager();
    const { app } = createTestApp(manager, { deferErrorPaths: ['/trpc', '/private'] });
    await using http = await startHttpServer(app);

    const notFound = await get(`${http.url}/trpc/probe`, UNKNOWN_ID);
    expect(notFound.status).toBe(200);
    expect(await notFound.json()).toEqual({
      sessionId: null,
      activeRequests: null,
      error: 'SESSION_NOT_FOUND',
    });
    const malformed = await get(`${http.url}/trpc/probe`, 'nope');
    expect(await malformed.json()).toMatchObject({ error: 'INVALID_SESSION_ID' });

    const required = await get(`${http.url}/private`, UNKNOWN_ID);
    expect(required.status).toBe(404);
    expect(await required.json()).toMatchObject({ error: { code: 'SESSION_NOT_FOUND' } });

    // outside the deferred prefixes the middleware answers itself
    expect((await get(`${http.url}/trpcx`, UNKNOWN_ID)).status).toBe(404);
    expect((await get(`${http.url}/hello`, 'nope')).status).toBe(400);
  });

  test('a store failure while looking the session up answers JSON 503 STORE_UNAVAILABLE and frees the slot', async () => {
    const store = spyStore({
      addRequest: () => () => Promise.reject(new StoreUnavailableError()),
    });
    const manager = newManager({ store });
    const session = await manager.createSession();
    const { app } = createTestApp(manager);
    await using http = await startHttpServer(app);

    const res = await get(`${http.url}/hello`, session.sessionId);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toEqual({
      error: { code: 'STORE_UNAVAILABLE', message: expect.any(String) },
    });
    await vi.waitFor(() => expect(manager.capacity.inFlight).toBe(0), WAIT);
    expect(manager.activeRequestCount).toBe(0);
  });
});

describe('sessionMiddleware: tracking', () => {
  test('stores with and without synchronous request tracking are tracked alike', async () => {
    const sync = spyStore();
    const asyncOnly = spyStore({ addRequest: (inner) => inner.addRequest.bind(inner) });
    for (const store of [sync, asyncOnly]) {
      const manager = newManager({ store });
      const session = await manager.createSession();
      const { app, hold } = createTestApp(manager);
      await using http = await startHttpServer(app);
      const pending = [
        get(`${http.url}/hold`, session.sessionId),
        get(`${http.url}/hold`, session.sessionId),
      ];
      await hold.arrived(2);
      expect((await manager.getSession(session.sessionId))?.activeRequests).toHaveLength(2);
      expect(manager.activeRequestCount).toBe(2);
      hold.release();
      for (const res of await Promise.all(pending)) {
        expect(await res.json()).toMatchObject({ sessionId: session.sessionId });
      }
      await vi.waitFor(() => expect(manager.activeRequestCount).toBe(0), WAIT);
      expect((await manager.getSession(session.sessionId))?.activeRequests).toEqual([]);
    }
    expect(sync.calls.get('addRequestSync')).toBe(2);
    expect(sync.calls.get('addRequest')).toBeUndefined();
    expect(asyncOnly.calls.get('addRequest')).toBe(2);
    expect(asyncOnly.calls.get('addRequestSync')).toBeUndefined();
  });

  test('concurrent requests from many sessions are counted exactly and all released', async () => {
    const manager = newManager({ maxConcurrentRequests: 200 });
    const sessions = await Promise.all(Array.from({ length: 25 }, () => manager.createSession()));
    const { app, hold } = createTestApp(manager);
    await using http = await startHttpServer(app);

    const perSession = 3;
    const pending = sessions.flatMap((session) =>
      Array.from({ length: perSession }, () => get(`${http.url}/hold`, session.sessionId)),
    );
    const anonymous = Array.from({ length: 5 }, () => get(`${http.url}/hold`));
    await hold.arrived(sessions.length * perSession + anonymous.length);

    expect(manager.activeRequestCount).toBe(sessions.length * perSession);
    expect(manager.capacity.inFlight).toBe(sessions.length * perSession + anonymous.length);
    for (const session of sessions) {
      const stored = await manager.getSession(session.sessionId);
      expect(stored?.activeRequests).toHaveLength(perSession);
      expect(new Set(stored?.activeRequests).size).toBe(perSession);
    }
    expect((await manager.getMetrics()).activeRequests).toBe(sessions.length * perSession);

    hold.release();
    const statuses = await Promise.all(
      [...pending, ...anonymous].map(async (res) => (await res).status),
    );
    expect(statuses.every((status) => status === 200)).toBe(true);
    await vi.waitFor(() => {
      expect(manager.activeRequestCount).toBe(0);
      expect(manager.capacity.inFlight).toBe(0);
    }, WAIT);
    for (const session of sessions) {
      expect((await manager.getSession(session.sessionId))?.activeRequests).toEqual([]);
    }
  });

  test('a client that aborts mid-request leaves no active request and no slot', async () => {
    const manager = newManager({ maxConcurrentRequests: 5 });
    const session = await manager.createSession();
    const { app, hold } = createTestApp(manager);
    await using http = await startHttpServer(app);

    const requests = Array.from({ length: 3 }, () =>
      abortable(http.url, '/hold', { 'X-Session-Id': session.sessionId }),
    );
    await hold.arrived(3);
    expect(manager.activeRequestCount).toBe(3);
    expect(manager.capacity.inFlight).toBe(3);

    for (const request of requests) request.abort();
    await vi.waitFor(() => {
      expect(manager.activeRequestCount).toBe(0);
      expect(manager.capacity.inFlight).toBe(0);
    }, WAIT);
    expect((await manager.getSession(session.sessionId))?.activeRequests).toEqual([]);

    // the handlers finishing later release nothing twice
    hold.release();
    const res = await get(`${http.url}/hello`, session.sessionId);
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(manager.capacity.inFlight).toBe(0), WAIT);
    expect(manager.activeRequestCount).toBe(0);
  });

  test('a client that aborts while the session lookup is pending never reaches the handler and leaks nothing', async () => {
    let unblock: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      unblock = resolve;
    });
    let lookups = 0;
    const store = spyStore({
      addRequest: (inner) => async (id, requestId, now) => {
        lookups += 1;
        await blocked;
        return inner.addRequest(id, requestId, now);
      },
    });
    const manager = newManager({ store });
    const session = await manager.createSession();
    const testApp = createTestApp(manager);
    await using http = await startHttpServer(testApp.app);

    const request = abortable(http.url, '/hello', { 'X-Session-Id': session.sessionId });
    await vi.waitFor(() => expect(lookups).toBe(1), WAIT);
    request.abort();
    expect(await request.outcome).toBe('ECONNRESET');
    await vi.waitFor(() => expect(manager.capacity.inFlight).toBe(0), WAIT);

    unblock();
    await vi.waitFor(() => expect(manager.activeRequestCount).toBe(0), WAIT);
    expect((await manager.getSession(session.sessionId))?.activeRequests).toEqual([]);
    expect(testApp.handled).toBe(0);
  });
});
