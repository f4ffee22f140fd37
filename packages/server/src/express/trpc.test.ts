import { randomUUID } from 'node:crypto';
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import express from 'express';
import superjson from 'superjson';
import { afterEach, describe, expect, test } from 'vitest';
import { ErrorCode, MorganError, StoreUnavailableError } from '../errors.js';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import { createHold } from '../testing/hold.js';
import { startHttpServer } from '../testing/http-server.js';
import { spyStore } from '../testing/spy-store.js';
import { mergeRouters, publicProcedure, router } from '../trpc/init.js';
import { createSessionRouter } from '../trpc/session-router.js';
import { errorHandler } from './error-handler.js';
import { sessionMiddleware } from './session-middleware.js';
import { trpcHandler } from './trpc.js';

const appRouter = mergeRouters(
  createSessionRouter(),
  router({
    limited: publicProcedure.query(() => {
      throw new MorganError(ErrorCode.RATE_LIMITED, 'Too many calls');
    }),
    crash: publicProcedure.query(() => {
      throw new Error('secret internals');
    }),
  }),
);
type AppRouter = typeof appRouter;

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

async function startApp(options: SessionManagerOptions = {}) {
  const manager = new SessionManager(options).start();
  managers.push(manager);
  const hold = createHold();
  const app = express();
  app.use(sessionMiddleware(manager));
  app.get('/hold', async (_req, res) => {
    await hold.enter();
    res.json({ ok: true });
  });
  app.use('/trpc', trpcHandler(manager, appRouter, { onInternalError: () => {} }));
  app.use(errorHandler({ onInternalError: () => {} }));
  const http = await startHttpServer(app);
  const client = (sessionId?: string, batch = true) => {
    const options = {
      url: `${http.url}/trpc`,
      transformer: superjson,
      headers: () => (sessionId === undefined ? {} : { 'X-Session-Id': sessionId }),
    };
    return createTRPCClient<AppRouter>({
      links: [batch ? httpBatchLink(options) : httpLink(options)],
    });
  };
  return { manager, http, hold, client };
}

async function rejection(call: Promise<unknown>) {
  const error = await call.then(
    () => expect.unreachable('the call should fail'),
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  const clientError = error as TRPCClientError<AppRouter>;
  const response = clientError.meta?.response as Response | undefined;
  return {
    httpStatus: clientError.data?.httpStatus,
    errorCode: clientError.data?.errorCode,
    status: response?.status,
    retryAfter: response?.headers.get('retry-after'),
    message: clientError.message,
  };
}

describe('tRPC over HTTP', () => {
  test('session.updateMetadata: a merge patch, 409 VERSION_CONFLICT on a stale ifVersion', async () => {
    const { http, client } = await startApp();
    await using _ = http;
    const created = await client().session.create.mutate({
      metadata: { cart: [1], theme: 'dark' },
    });
    const mine = client(created.sessionId);
    const updated = await mine.session.updateMetadata.mutate({
      patch: { cart: [1, 2], theme: null },
    });
    expect(updated).toMatchObject({ metadata: { cart: [1, 2] }, metadataVersion: 2 });
    expect(
      await rejection(mine.session.updateMetadata.mutate({ patch: { cart: [] }, ifVersion: 1 })),
    ).toMatchObject({ status: 409, errorCode: ErrorCode.VERSION_CONFLICT });
    expect(
      await rejection(mine.session.updateMetadata.mutate({ patch: [] as unknown as { a: 1 } })),
    ).toMatchObject({ status: 400 });
    expect(await mine.session.get.query()).toMatchObject({
      metadata: { cart: [1, 2] },
      metadataVersion: 2,
    });
  });

  test('create, get, heartbeat, metrics and delete, with superjson Dates', async () => {
    const { manager, http, client } = await startApp({ sessionTimeoutMs: 120_000 });
    await using _ = http;
    const created = await client().session.create.mutate({
      conversationId: 'c1',
      metadata: { plan: 'pro' },
    });
    expect(created.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.createdAt).toBeInstanceOf(Date);

    const mine = client(created.sessionId);
    const [got, beat] = await Promise.all([
      mine.session.get.query(),
      mine.session.heartbeat.mutate(),
    ]);
    expect(got).toMatchObject({
      sessionId: created.sessionId,
      conversationId: 'c1',
      metadata: { plan: 'pro' },
    });
    expect(beat.lastActivity).toBeInstanceOf(Date);
    expect(beat.expiresAt.getTime() - beat.lastActivity.getTime()).toBe(120_000);

    const metrics = await mine.session.metrics.query();
    expect(metrics).toMatchObject({ activeSessions: 1, totalSessionsCreated: 1 });

    expect(await mine.session.delete.mutate()).toEqual({ deleted: true });
    expect(await manager.getSession(created.sessionId)).toBeUndefined();
  });

  test('errors carry HTTP 401/404/400 and the stable code as data.errorCode', async () => {
    const { http, client } = await startApp();
    await using _ = http;
    for (const batch of [true, false]) {
      expect(await rejection(client(undefined, batch).session.get.query())).toMatchObject({
        status: 401,
        httpStatus: 401,
        errorCode: 'SESSION_REQUIRED',
      });
      expect(
        await rejection(client('5b0f3c1e-8d2a-4f7b-9c3e-1a2b3c4d5e6f', batch).session.get.query()),
      ).toMatchObject({ status: 404, httpStatus: 404, errorCode: 'SESSION_NOT_FOUND' });
      expect(await rejection(client('not-a-uuid', batch).session.heartbeat.mutate())).toMatchObject(
        {
          status: 400,
          httpStatus: 400,
          errorCode: 'INVALID_SESSION_ID',
        },
      );
      expect(
        await rejection(client(undefined, batch).session.create.mutate({ userId: '' })),
      ).toMatchObject({ status: 400, errorCode: 'INVALID_REQUEST' });
      expect(await rejection(client(undefined, batch).limited.query())).toMatchObject({
        status: 429,
        errorCode: 'RATE_LIMITED',
      });
      const crash = await rejection(client(undefined, batch).crash.query());
      expect(crash).toMatchObject({ status: 500, errorCode: 'INTERNAL_ERROR' });
      expect(crash.message).not.toMatch(/secret/);
    }
  });

  test('session.create works for a client whose stored id went stale', async () => {
    const { manager, http, client } = await startApp();
    await using _ = http;
    const old = await manager.createSession();
    await manager.deleteSession(old.sessionId);
    const stale = client(old.sessionId);
    expect(await rejection(stale.session.get.query())).toMatchObject({
      errorCode: 'SESSION_NOT_FOUND',
    });
    const fresh = await stale.session.create.mutate();
    expect(fresh.sessionId).not.toBe(old.sessionId);
  });

  test('while the store is unreachable calls fail with 503 STORE_UNAVAILABLE and Retry-After', async () => {
    let down = true;
    const unavailable = <T>(work: () => Promise<T>) =>
      down ? Promise.reject(new StoreUnavailableError('Redis is unavailable')) : work();
    const store = spyStore({
      create: (inner) => (record) => unavailable(() => inner.create(record)),
      addRequest: (inner) => (id, request, now) =>
        unavailable(() => inner.addRequest(id, request, now)),
    });
    const { http, client } = await startApp({ store });
    await using _ = http;
    const sessionId = randomUUID();
    const outage = {
      status: 503,
      httpStatus: 503,
      errorCode: 'STORE_UNAVAILABLE',
      retryAfter: '1',
      message: expect.any(String),
    };
    for (const batch of [true, false]) {
      expect(await rejection(client(undefined, batch).session.create.mutate())).toEqual(outage);
      expect(await rejection(client(sessionId, batch).session.get.query())).toEqual(outage);
    }
    down = false;
    const created = await client().session.create.mutate();
    await expect(client(created.sessionId).session.get.query()).resolves.toMatchObject({
      sessionId: created.sessionId,
    });
  });

  test('at capacity calls fail with 503 SERVER_AT_CAPACITY and Retry-After, and no procedure runs', async () => {
    const { manager, http, hold, client } = await startApp({ maxConcurrentRequests: 1 });
    await using _ = http;
    const held = fetch(`${http.url}/hold`);
    await hold.arrived(1);

    for (const batch of [true, false]) {
      expect(
        await rejection(client(undefined, batch).session.create.mutate({ userId: 'u' })),
      ).toEqual({
        status: 503,
        httpStatus: 503,
        errorCode: 'SERVER_AT_CAPACITY',
        retryAfter: '1',
        message: expect.any(String),
      });
    }
    expect(await manager.getActiveSessionCount()).toBe(0);
    expect(manager.capacity.shedCount).toBe(2);

    hold.release();
    await held;
    await expect(client().session.create.mutate()).resolves.toHaveProperty('sessionId');
  });
});

describe('tRPC batches over HTTP', () => {
  test('a batch of more than maxBatchSize calls answers 400 INVALID_REQUEST and runs none of them', async () => {
    const { manager, http } = await startApp();
    await using _ = http;
    const calls = (count: number) => {
      const paths = Array.from({ length: count }, () => 'session.create').join(',');
      const input = Object.fromEntries(Array.from({ length: count }, (_, i) => [i, { json: {} }]));
      return fetch(`${http.url}/trpc/${paths}?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input),
      });
    };
    const tooMany = await calls(101);
    expect(tooMany.status).toBe(400);
    const refusal = JSON.stringify(await tooMany.json());
    expect(refusal).toContain('"errorCode":"INVALID_REQUEST"');
    // Morgan's own check, whatever the installed tRPC's maxBatchSize support.
    expect(refusal).toContain('A batch may hold at most 100 calls');
    expect(await manager.getActiveSessionCount()).toBe(0);
    const allowed = await calls(50);
    expect(allowed.status).toBe(200);
    expect(await manager.getActiveSessionCount()).toBe(50);
  });
});
