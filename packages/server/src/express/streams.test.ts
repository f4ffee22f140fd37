// Attacker's side: long-lived SSE streams (tRPC subscriptions over HTTP) on a
// real server. Streams have a budget of their own, so any number of them up
// to it leaves ordinary requests their request slots.
import express from 'express';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import { startHttpServer } from '../testing/http-server.js';
import { createSessionRouter } from '../trpc/session-router.js';
import { errorHandler } from './error-handler.js';
import { sessionMiddleware } from './session-middleware.js';
import { trpcHandler } from './trpc.js';

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

async function startApp(options: SessionManagerOptions) {
  const manager = new SessionManager(options).start();
  managers.push(manager);
  const app = express();
  app.use(sessionMiddleware(manager));
  app.get('/hello', (_req, res) => {
    res.json({ ok: true });
  });
  app.use('/trpc', trpcHandler(manager, createSessionRouter()));
  app.use(errorHandler({ onInternalError: () => {} }));
  return { manager, http: await startHttpServer(app) };
}

/** Opens `GET /trpc/session.events` as an EventSource would and waits for the stream to start. */
async function openStream(url: string, sessionId: string, signal: AbortSignal) {
  const response = await fetch(`${url}/trpc/session.events`, {
    headers: { accept: 'text/event-stream', 'X-Session-Id': sessionId },
    signal,
  });
  if (response.ok) {
    // The first bytes (tRPC's connected event) prove the stream is open.
    const reader = response.body?.getReader();
    await reader?.read();
  }
  return response;
}

describe('SSE streams have their own budget', () => {
  test('100 open streams hold no request slot: other clients still get 200, and closing them frees everything', async () => {
    const { manager, http } = await startApp({ maxConcurrentRequests: 10 });
    await using _ = http;
    const abort = new AbortController();
    const sessions = await Promise.all(Array.from({ length: 13 }, () => manager.createSession()));
    const streams = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        openStream(http.url, sessions[i % 13]?.sessionId ?? '', abort.signal),
      ),
    );
    expect(streams.map((res) => res.status)).toEqual(Array(100).fill(200));
    expect(streams[0]?.headers.get('x-accel-buffering')).toBe('no');
    expect(manager.streams.open).toBe(100);
    expect(manager.capacity.inFlight).toBe(0);

    const visitor = await fetch(`${http.url}/trpc/session.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ json: {} }),
    });
    expect(visitor.status).toBe(200);
    const hellos = await Promise.all(Array.from({ length: 10 }, () => fetch(`${http.url}/hello`)));
    expect(hellos.map((res) => res.status)).toEqual(Array(10).fill(200));

    abort.abort();
    await vi.waitFor(() => expect(manager.streams.open).toBe(0), { timeout: 10_000 });
    const [first] = sessions;
    await vi.waitFor(
      async () =>
        expect((await manager.getSession(first?.sessionId ?? ''))?.activeRequests).toEqual([]),
      { timeout: 10_000 },
    );
  });

  test('one session past its share gets 429 RATE_LIMITED with Retry-After, and nothing is counted for it', async () => {
    const { manager, http } = await startApp({ maxStreamsPerSession: 3 });
    await using _ = http;
    const abort = new AbortController();
    const { sessionId } = await manager.createSession();
    const held = await Promise.all(
      [1, 2, 3].map(() => openStream(http.url, sessionId, abort.signal)),
    );
    expect(held.map((res) => res.status)).toEqual([200, 200, 200]);
    const refused = await openStream(http.url, sessionId, abort.signal);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(JSON.stringify(await refused.json())).toContain('RATE_LIMITED');
    expect(manager.streams.openFor(sessionId)).toBe(3);
    abort.abort();
    await vi.waitFor(() => expect(manager.streams.open).toBe(0), { timeout: 10_000 });
  });

  test('a full node answers new streams 503 SERVER_AT_CAPACITY, ordinary requests still 200', async () => {
    const { manager, http } = await startApp({ maxStreams: 2 });
    await using _ = http;
    const abort = new AbortController();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => manager.createSession()));
    for (const session of [a, b]) {
      expect((await openStream(http.url, session?.sessionId ?? '', abort.signal)).status).toBe(200);
    }
    const refused = await openStream(http.url, c?.sessionId ?? '', abort.signal);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await fetch(`${http.url}/hello`)).status).toBe(200);
    abort.abort();
    await vi.waitFor(() => expect(manager.streams.open).toBe(0), { timeout: 10_000 });
  });

  test('a stream opened without Accept: text/event-stream gives its request slot back as soon as tRPC answers with SSE', async () => {
    const { manager, http } = await startApp({ maxConcurrentRequests: 2 });
    await using _ = http;
    const abort = new AbortController();
    const { sessionId } = await manager.createSession();
    const plain = await Promise.all(
      [1, 2, 3].map(async () => {
        const res = await fetch(`${http.url}/trpc/session.events`, {
          headers: { 'X-Session-Id': sessionId },
          signal: abort.signal,
        });
        await res.body?.getReader().read();
        return res;
      }),
    );
    expect(plain.map((res) => res.headers.get('content-type'))).toEqual(
      Array(3).fill(expect.stringContaining('text/event-stream')),
    );
    expect(manager.capacity.inFlight).toBe(0);
    expect(manager.streams.openFor(sessionId)).toBe(3);
    expect((await fetch(`${http.url}/hello`)).status).toBe(200);
    abort.abort();
    await vi.waitFor(() => expect(manager.streams.open).toBe(0), { timeout: 10_000 });
  });
});
