import type { AddressInfo } from 'node:net';
import { SessionManager } from '@morgan/session-server';
import { errorHandler, requireSession, sessionMiddleware } from '@morgan/session-server/express';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { type Admin, type AdminState, createAdmin, SessionHandles } from './index.js';

const TOKEN = 'routes-test-admin-token';

/** `fetch` with the admin token. */
function admin(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${TOKEN}`);
  return fetch(url, { ...init, headers });
}

interface Fixture {
  url: string;
  manager: SessionManager;
  admin: Admin;
  /** Keeps `/api/work` requests from answering (in their slot) until the function returned is called. */
  holdWork(): () => void;
  close(): Promise<void>;
}

let fixture: Fixture | undefined;

async function start(maxConcurrentRequests = 10): Promise<Fixture> {
  const manager = new SessionManager({ maxConcurrentRequests }).start();
  const dashboard = createAdmin(manager, {
    token: TOKEN,
    overload: { freeSlots: 1, replyDelayMs: 200 },
  });
  // A reply delay alone would race a busy machine (the first request could
  // finish before the third arrives); a held request keeps its slot until the
  // test lets it go.
  let held: Promise<void> = Promise.resolve();
  const app = express();
  app.use('/api/admin', dashboard.routes);
  app.use(sessionMiddleware(manager));
  app.post('/api/work', requireSession(), async (_req, res) => {
    await Promise.all([dashboard.overload.delay(), held]);
    res.json({ ok: true });
  });
  app.use(errorHandler({ onInternalError: () => {} }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  fixture = {
    url: `http://127.0.0.1:${port}`,
    manager,
    admin: dashboard,
    holdWork() {
      let release!: () => void;
      held = new Promise((resolve) => {
        release = resolve;
      });
      return release;
    },
    async close() {
      dashboard.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await manager.stop();
    },
  };
  return fixture;
}

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function state(url: string): Promise<AdminState> {
  const response = await admin(`${url}/api/admin/state`);
  expect(response.status).toBe(200);
  return (await response.json()) as AdminState;
}

/** The values of the first `count` of `promises` to resolve, in the order they did. */
function firstSettled<T>(promises: Promise<T>[], count: number): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const values: T[] = [];
    for (const promise of promises) {
      promise.then((value) => {
        values.push(value);
        if (values.length === count) resolve([...values]);
      }, reject);
    }
  });
}

describe('admin routes', () => {
  it('lists sessions with user, conversation, age, idle, connections and requests', async () => {
    const { url, manager } = await start();
    const a = await manager.createSession({ userId: 'alice', conversationId: 'conv-1' });
    const b = await manager.createSession();
    await manager.addConnection(b.sessionId);
    await using _request = await manager.trackRequest(b.sessionId);
    const body = await state(url);
    expect(body.totals).toMatchObject({
      activeSessions: 2,
      created: 2,
      connections: 1,
      capacityLimit: 10,
      capacityMode: 'static',
    });
    const short = (id: string) => `${id.slice(0, 8)}…`;
    expect(body.sessions.map((s) => s.shortId).sort()).toEqual(
      [short(a.sessionId), short(b.sessionId)].sort(),
    );
    const rowA = body.sessions.find((s) => s.shortId === short(a.sessionId));
    const rowB = body.sessions.find((s) => s.shortId === short(b.sessionId));
    expect(rowA).toMatchObject({
      userId: 'alice',
      conversationId: 'conv-1',
      connectionCount: 0,
      activeRequests: 0,
    });
    expect(rowB).toMatchObject({
      userId: null,
      conversationId: null,
      connectionCount: 1,
      activeRequests: 1,
    });
    expect(rowA!.ageMs).toBeGreaterThanOrEqual(0);
    expect(rowA!.idleMs).toBeGreaterThanOrEqual(0);
    expect(body.node.store).toBe('memory');
    expect(body.listError).toBeNull();
    // Session ids are bearer credentials: the state names sessions by handle only.
    const text = JSON.stringify(body);
    expect(text).not.toContain(a.sessionId);
    expect(text).not.toContain(b.sessionId);
    expect(rowA!.handle).toMatch(/^[\w-]{40,}$/);
    // A handle stays the same from one refresh to the next (the table keys its rows by it).
    expect((await state(url)).sessions.find((s) => s.shortId === rowA!.shortId)?.handle).toBe(
      rowA!.handle,
    );
  });

  it('acts on a listed session by its handle; a handle from another node or altered is refused', async () => {
    const { url, manager } = await start();
    const session = await manager.createSession({ userId: 'hana' });
    const [listed] = (await state(url)).sessions;
    const elsewhere = new SessionHandles().handleOf(session.sessionId);
    const altered = `${listed!.handle.slice(0, -2)}${listed!.handle.endsWith('AA') ? 'BA' : 'AA'}`;
    for (const handle of [elsewhere, altered, 'x'.repeat(86), '%00']) {
      const refused = await admin(`${url}/api/admin/sessions/${handle}`, { method: 'DELETE' });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ error: { code: 'INVALID_SESSION_ID' } });
    }
    expect(await manager.getSession(session.sessionId)).toBeDefined();

    const rotated = await admin(`${url}/api/admin/sessions/${listed!.handle}/rotate`, {
      method: 'POST',
    });
    expect(rotated.status).toBe(200);
    const body = (await rotated.json()) as { rotated: boolean; shortId: string; handle: string };
    const [renewed] = await manager.listSessionsByUser('hana');
    expect(body).toEqual({
      rotated: true,
      shortId: `${renewed!.sessionId.slice(0, 8)}…`,
      handle: expect.any(String),
    });
    expect(JSON.stringify(body)).not.toContain(renewed!.sessionId);
    const deleted = await admin(`${url}/api/admin/sessions/${body.handle}`, { method: 'DELETE' });
    expect(await deleted.json()).toEqual({ deleted: true, shortId: body.shortId });
    expect(await manager.listSessionsByUser('hana')).toEqual([]);
  });

  it('deletes a session, and answers 404 and 400 for unknown and malformed ids', async () => {
    const { url, manager } = await start();
    const session = await manager.createSession();
    const path = `${url}/api/admin/sessions/${session.sessionId}`;
    const deleted = await admin(path, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(await manager.getSession(session.sessionId)).toBeUndefined();
    const again = await admin(path, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: { code: 'SESSION_NOT_FOUND' } });
    const bad = await admin(`${url}/api/admin/sessions/nope`, { method: 'DELETE' });
    expect(bad.status).toBe(400);
    expect((await state(url)).totals.deleted).toBe(1);
  });

  it('rotates a session given its full id, and logs a user out everywhere', async () => {
    const { url, manager } = await start();
    const session = await manager.createSession({ userId: 'ann' });
    const rotated = await admin(`${url}/api/admin/sessions/${session.sessionId}/rotate`, {
      method: 'POST',
    });
    const body = (await rotated.json()) as { rotated: boolean; shortId: string };
    expect(body.rotated).toBe(true);
    expect(await manager.getSession(session.sessionId)).toBeUndefined();
    const [renewed] = await manager.listSessionsByUser('ann');
    expect(body.shortId).toBe(`${renewed!.sessionId.slice(0, 8)}…`);
    const again = await admin(`${url}/api/admin/sessions/${session.sessionId}/rotate`, {
      method: 'POST',
    });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: { code: 'SESSION_NOT_FOUND' } });

    await manager.createSession({ userId: 'ann' });
    const other = await manager.createSession({ userId: 'ben' });
    const out = await admin(`${url}/api/admin/users/ann/sessions`, { method: 'DELETE' });
    expect(await out.json()).toEqual({ deleted: 2 });
    expect(await manager.listSessionsByUser('ann')).toEqual([]);
    expect(await manager.getSession(other.sessionId)).toBeDefined();
  });

  it('toggles the overload: concurrent requests are shed, the dashboard still answers', async () => {
    const { url, manager, holdWork } = await start(4);
    const session = await manager.createSession();
    const on = await admin(`${url}/api/admin/overload`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: true }),
    });
    expect(await on.json()).toMatchObject({ enabled: true, heldSlots: 3 });
    const send = () =>
      fetch(`${url}/api/work`, { method: 'POST', headers: { 'x-session-id': session.sessionId } });
    const release = holdWork();
    const statuses = [send(), send(), send()].map(async (r) => (await r).status);
    // One request takes the one free slot and stays in it; the other two are shed meanwhile.
    expect(await firstSettled(statuses, 2)).toEqual([503, 503]);
    release();
    expect((await Promise.all(statuses)).sort()).toEqual([200, 503, 503]);
    const during = await state(url);
    expect(during.overload.enabled).toBe(true);
    expect(during.totals.shed).toBe(2);
    expect(during.totals.inFlightRequests).toBe(0);

    const off = await admin(`${url}/api/admin/overload`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: false }),
    });
    expect(await off.json()).toMatchObject({ enabled: false, heldSlots: 0 });
    const after = (await Promise.all([send(), send(), send()])).map((r) => r.status);
    expect(after).toEqual([200, 200, 200]);
  });

  it('rejects a malformed overload request', async () => {
    const { url } = await start();
    const response = await admin(`${url}/api/admin/overload`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: 'yes' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
  });
});
