import { createTRPCClient, httpLink } from '@trpc/client';
import express from 'express';
import superjson from 'superjson';
import { afterEach, describe, expect, test } from 'vitest';
import { SessionManager } from '../manager.js';
import { startHttpServer } from '../testing/http-server.js';
import { mergeRouters, router, sessionProcedure } from '../trpc/init.js';
import { createSessionRouter } from '../trpc/session-router.js';
import { requireSession, sessionMiddleware } from './session-middleware.js';
import { trpcHandler } from './trpc.js';

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

const appRouter = mergeRouters(
  createSessionRouter(),
  router({
    login: sessionProcedure.mutation(async ({ ctx }) => {
      const session = await ctx.manager.rotateSession(ctx.session.sessionId);
      return { sessionId: session.sessionId };
    }),
  }),
);

async function startApp() {
  const manager = new SessionManager().start();
  managers.push(manager);
  const app = express();
  app.use(sessionMiddleware(manager));
  app.post('/login', requireSession(), async (req, res) => {
    const session = await manager.rotateSession(req.morgan.session?.sessionId ?? '');
    res.json({ sessionId: session.sessionId });
  });
  app.get('/plain', (_req, res) => {
    res.json({ ok: true });
  });
  app.use('/trpc', trpcHandler(manager, appRouter));
  return { manager, http: await startHttpServer(app) };
}

describe('the request that rotates its session', () => {
  test('many sessionMiddleware on one manager add one rotated listener, and each still tells its request', async () => {
    const manager = new SessionManager().start();
    managers.push(manager);
    const before = manager.listenerCount('rotated');
    const app = express();
    for (let i = 0; i < 1000; i += 1) {
      const mounted = express.Router();
      mounted.use(sessionMiddleware(manager));
      mounted.post('/login', requireSession(), async (req, res) => {
        const session = await manager.rotateSession(req.morgan.session?.sessionId ?? '');
        res.json({ sessionId: session.sessionId });
      });
      app.use(`/app${i}`, mounted);
    }
    expect(manager.listenerCount('rotated')).toBe(before + 1);
    // Another manager has notices of its own.
    const other = new SessionManager();
    managers.push(other);
    sessionMiddleware(other);
    expect(other.listenerCount('rotated')).toBe(1);
    expect(manager.listenerCount('rotated')).toBe(before + 1);

    await using http = await startHttpServer(app);
    for (const mount of ['/app0', '/app999']) {
      const old = await manager.createSession();
      const res = await fetch(`${http.url}${mount}/login`, {
        method: 'POST',
        headers: { 'X-Session-Id': old.sessionId },
      });
      const body = (await res.json()) as { sessionId: string };
      expect(body.sessionId).not.toBe(old.sessionId);
      expect(res.headers.get('x-session-id')).toBe(body.sessionId);
    }
  });

  test('answers with the new id in X-Session-Id; the old id answers 404 at once', async () => {
    const { manager, http } = await startApp();
    await using _ = http;
    const old = await manager.createSession({ userId: 'u1' });
    const res = await fetch(`${http.url}/login`, {
      method: 'POST',
      headers: { 'X-Session-Id': old.sessionId },
    });
    const body = (await res.json()) as { sessionId: string };
    expect(res.headers.get('x-session-id')).toBe(body.sessionId);
    expect(body.sessionId).not.toBe(old.sessionId);

    const stale = await fetch(`${http.url}/plain`, { headers: { 'X-Session-Id': old.sessionId } });
    expect(stale.status).toBe(404);
    const fresh = await fetch(`${http.url}/plain`, { headers: { 'X-Session-Id': body.sessionId } });
    expect(fresh.status).toBe(200);
    // Only the rotating request carries the header.
    expect(fresh.headers.get('x-session-id')).toBeNull();
    expect((await manager.getSession(body.sessionId))?.userId).toBe('u1');
  });

  test('over tRPC (HTTP) too, and other requests of the session in flight are not told', async () => {
    const { manager, http } = await startApp();
    await using _ = http;
    const old = await manager.createSession();
    let seen: string | null = null;
    const client = createTRPCClient<typeof appRouter>({
      links: [
        httpLink({
          url: `${http.url}/trpc`,
          transformer: superjson,
          headers: { 'X-Session-Id': old.sessionId },
          fetch: async (input, init) => {
            const response = await fetch(input, init as RequestInit);
            seen = response.headers.get('x-session-id');
            return response;
          },
        }),
      ],
    });
    const { sessionId } = await client.login.mutate();
    expect(seen).toBe(sessionId);
    expect(await manager.getSession(old.sessionId)).toBeUndefined();
  });
});
