// Priority classes at the edge of capacity, on real servers: app traffic is
// shed while session control (Morgan's session.* procedures, the app's
// controlPaths) is still admitted; probes and scrapes take no slot at all.
import express from 'express';
import { afterEach, describe, expect, test } from 'vitest';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import { createHold } from '../testing/hold.js';
import { startHttpServer } from '../testing/http-server.js';
import { mergeRouters, publicProcedure, router } from '../trpc/init.js';
import { createSessionRouter } from '../trpc/session-router.js';
import { connect, Latch, startWsServer } from '../ws/testing/ws-server.js';
import { errorHandler } from './error-handler.js';
import { healthRoutes } from './health.js';
import { sessionMiddleware } from './session-middleware.js';
import { trpcHandler } from './trpc.js';

const appRouter = mergeRouters(
  createSessionRouter(),
  router({ app: router({ ping: publicProcedure.query(() => 'pong') }) }),
);

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

/** Static limit 10: app traffic gets 10 slots, session control one more (a tenth). */
async function startApp(options: SessionManagerOptions = { maxConcurrentRequests: 10 }) {
  const manager = new SessionManager(options).start();
  managers.push(manager);
  const hold = createHold();
  const app = express();
  app.use(healthRoutes(manager));
  app.use(sessionMiddleware(manager, { controlPaths: ['/auth/'] }));
  const held: express.RequestHandler = async (_req, res) => {
    await hold.enter();
    res.json({ ok: true });
  };
  app.get('/hold', held);
  app.get('/auth/hold', held);
  app.get('/hello', (_req, res) => {
    res.json({ hello: true });
  });
  app.get('/auth/login', (_req, res) => {
    res.json({ login: true });
  });
  app.use('/trpc', trpcHandler(manager, appRouter, { onInternalError: () => {} }));
  app.use(errorHandler({ onInternalError: () => {} }));
  const http = await startHttpServer(app);
  return { manager, hold, http };
}

const heartbeat = (url: string, sessionId: string) =>
  fetch(`${url}/trpc/session.heartbeat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-id': sessionId },
    body: JSON.stringify({ json: null }),
  });

describe('priority classes over HTTP', () => {
  test('at capacity an app request is shed (503) while session control is still admitted', async () => {
    const { manager, hold, http } = await startApp();
    await using _ = http;
    const { sessionId } = await manager.createSession();
    const held = Array.from({ length: 10 }, () => fetch(`${http.url}/hold`));
    await hold.arrived(10);
    expect(manager.capacity.inFlight).toBe(10);

    const app = await fetch(`${http.url}/hello`, { headers: { 'x-session-id': sessionId } });
    expect(app.status).toBe(503);
    expect(app.headers.get('retry-after')).toBe('1');
    expect(await app.json()).toMatchObject({ error: { code: 'SERVER_AT_CAPACITY' } });

    const beat = await heartbeat(http.url, sessionId);
    expect(beat.status).toBe(200);
    const created = await fetch(`${http.url}/trpc/session.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: {} }),
    });
    expect(created.status).toBe(200);
    const batch = await fetch(`${http.url}/trpc/session.heartbeat,session.heartbeat?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-id': sessionId },
      body: JSON.stringify({ 0: { json: null }, 1: { json: null } }),
    });
    expect(batch.status).toBe(200);
    const queries = await fetch(
      `${http.url}/trpc/session.get,session.get?batch=1&input=${encodeURIComponent('{}')}`,
      { headers: { 'x-session-id': sessionId } },
    );
    expect(queries.status).toBe(200);
    // An app call does not get in by riding in a batch with session calls.
    const mixed = await fetch(
      `${http.url}/trpc/session.get,app.ping?batch=1&input=${encodeURIComponent('{}')}`,
      { headers: { 'x-session-id': sessionId } },
    );
    expect(mixed.status).toBe(503);
    const appCall = await fetch(`${http.url}/trpc/app.ping`);
    expect(appCall.status).toBe(503);
    // The app's own session-control routes (controlPaths) are admitted too.
    expect((await fetch(`${http.url}/auth/login`)).status).toBe(200);
    // Probes and scrapes take no slot.
    expect((await fetch(`${http.url}/health`)).status).toBe(200);
    expect((await fetch(`${http.url}/ready`)).status).toBe(200);
    expect((await fetch(`${http.url}/metrics`)).status).toBe(200);
    expect(manager.capacity.shedCount).toBe(3);

    hold.release();
    expect((await Promise.all(held)).map((res) => res.status)).toEqual(Array(10).fill(200));
  });

  test('session control has a headroom of its own, not an unbounded pass', async () => {
    const { manager, hold, http } = await startApp();
    await using _ = http;
    const { sessionId } = await manager.createSession();
    const held = Array.from({ length: 10 }, () => fetch(`${http.url}/hold`));
    await hold.arrived(10);
    const control = fetch(`${http.url}/auth/hold`);
    await hold.arrived(11);
    expect(manager.capacity.inFlight).toBe(11);

    expect((await heartbeat(http.url, sessionId)).status).toBe(503);
    expect((await fetch(`${http.url}/auth/login`)).status).toBe(503);

    hold.release();
    await Promise.all([...held, control]);
  });

  test('the live limit is a Prometheus gauge', async () => {
    const { http } = await startApp({ capacity: { mode: 'adaptive', initialLimit: 30 } });
    await using _ = http;
    const text = await (await fetch(`${http.url}/metrics`)).text();
    expect(text).toMatch(/^morgan_capacity_limit 30$/m);
  });
});

describe('priority classes over WebSocket', () => {
  test('at capacity an app call fails with SERVER_AT_CAPACITY while session.heartbeat answers', async () => {
    await using t = await startWsServer({ manager: { maxConcurrentRequests: 10 } });
    const { sessionId } = await t.manager.createSession();
    const client = await connect(t.url, sessionId);
    const calls = new Map<number, (message: string) => void>();
    client.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number };
      if (typeof message.id === 'number') calls.get(message.id)?.(data.toString());
    });
    const call = (id: number, method: 'query' | 'mutation', path: string, input?: unknown) =>
      new Promise<string>((resolve) => {
        calls.set(id, resolve);
        client.send(JSON.stringify({ id, method, params: { path, input: { json: input } } }));
      });

    for (let i = 0; i < 10; i += 1) t.latches.set(`s${i}`, new Latch());
    const slow = Array.from({ length: 10 }, (_, i) =>
      call(i + 1, 'mutation', 'test.slow', `s${i}`),
    );
    await expect.poll(() => t.slowStarted.length, { timeout: 10_000 }).toBe(10);

    expect(await call(100, 'mutation', 'test.echo', 'x')).toContain('SERVER_AT_CAPACITY');
    const beat = await call(101, 'mutation', 'session.heartbeat');
    expect(beat).toContain('expiresAt');
    expect(beat).not.toContain('error');

    for (const latch of t.latches.values()) latch.open();
    expect((await Promise.all(slow)).every((answer) => !answer.includes('error'))).toBe(true);
    client.close();
  });
});
