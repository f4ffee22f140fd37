// SSE subscriptions through a real nginx with its defaults (proxy_buffering
// on): events pass at once because the response says `X-Accel-Buffering: no`,
// and the server's pings keep an idle stream alive past proxy_read_timeout.
import { randomUUID } from 'node:crypto';
import { startNginx } from '@morgan/test-support';
import { initTRPC } from '@trpc/server';
import express from 'express';
import superjson from 'superjson';
import { afterEach, describe, expect, test } from 'vitest';
import { SessionManager } from '../manager.js';
import { startHttpServer } from '../testing/http-server.js';
import type { MorganContext } from '../trpc/context.js';
import { morganErrorData } from '../trpc/errors.js';
import { morganSseOptions } from '../trpc/init.js';
import { createMorganProcedures } from '../trpc/procedures.js';
import { errorHandler } from './error-handler.js';
import { sessionMiddleware } from './session-middleware.js';
import { trpcHandler } from './trpc.js';

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

/** A Morgan app whose own tRPC instance pings SSE streams every `pingMs` (or never). */
async function startApp(pingMs: number | undefined) {
  const t = initTRPC.context<MorganContext>().create({
    transformer: superjson,
    sse: {
      ...morganSseOptions,
      ping: { enabled: pingMs !== undefined, intervalMs: pingMs ?? 1_000 },
    },
    errorFormatter: ({ shape, error }) => ({
      ...shape,
      data: { ...shape.data, ...morganErrorData(error) },
    }),
  });
  const { sessionRouter } = createMorganProcedures(t);
  const router = t.router({ session: sessionRouter });
  const manager = new SessionManager().start();
  managers.push(manager);
  const app = express();
  app.use(sessionMiddleware(manager));
  app.use('/trpc', trpcHandler(manager, router));
  app.use(errorHandler({ onInternalError: () => {} }));
  return { manager, http: await startHttpServer(app) };
}

/** Reads an SSE response as it comes: `next(predicate)` resolves the first event matching it. */
function eventReader(response: Response) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  const events: { event: string; data: string; id?: string }[] = [];
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) {
        ended = true;
        return;
      }
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: { event: string; data: string; id?: string } = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event.event = line.slice(6).trim();
          else if (line.startsWith('data:')) event.data += line.slice(5).trim();
          else if (line.startsWith('id:')) event.id = line.slice(3).trim();
        }
        events.push(event);
        end = buffer.indexOf('\n\n');
      }
    }
  })();
  return {
    events,
    get ended() {
      return ended;
    },
    ends: pump,
    cancel: () => reader.cancel().catch(() => {}),
  };
}

async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('SSE through nginx (proxy_buffering on, a short proxy_read_timeout)', () => {
  test('events pass at once, and pings keep an idle stream open past proxy_read_timeout', async () => {
    const { manager, http } = await startApp(250);
    await using _http = http;
    await using nginx = await startNginx({
      upstreams: [`127.0.0.1:${http.port}`],
      proxyReadTimeoutSeconds: 1,
    });
    const { sessionId } = await manager.createSession();
    const response = await fetch(`${nginx.url}/trpc/session.events`, {
      headers: { accept: 'text/event-stream', 'x-session-id': sessionId },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const stream = eventReader(response);
    await until(() => stream.events.some((event) => event.event === 'connected'), 'connected');

    // One small event, far below nginx's buffer size, read while the stream
    // stays open; the response tells nginx not to buffer it (nginx takes
    // that header for itself: only a direct request sees it).
    const direct = new AbortController();
    const straight = await fetch(`${http.url}/trpc/session.events`, {
      headers: { accept: 'text/event-stream', 'x-session-id': sessionId },
      signal: direct.signal,
    });
    expect(straight.headers.get('x-accel-buffering')).toBe('no');
    direct.abort();
    await manager.publish(sessionId, 'tick', { n: 1 });
    await until(() => stream.events.some((event) => event.data.includes('"tick"')), 'the event');
    expect(stream.ended).toBe(false);

    // Three times proxy_read_timeout with nothing but pings.
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    expect(stream.ended).toBe(false);
    expect(stream.events.filter((event) => event.event === 'ping').length).toBeGreaterThan(3);
    await manager.publish(sessionId, 'tick', { n: 2 });
    await until(() => stream.events.some((event) => event.data.includes('"n":2')), 'a later event');
    expect(stream.ended).toBe(false);
    await stream.cancel();
  }, 30_000);

  test('without pings nginx cuts the idle stream after proxy_read_timeout (what the pings are for)', async () => {
    const { manager, http } = await startApp(undefined);
    await using _http = http;
    await using nginx = await startNginx({
      upstreams: [`127.0.0.1:${http.port}`],
      proxyReadTimeoutSeconds: 1,
    });
    const { sessionId } = await manager.createSession();
    const response = await fetch(`${nginx.url}/trpc/session.events`, {
      headers: { accept: 'text/event-stream', 'x-session-id': sessionId },
    });
    const stream = eventReader(response);
    await until(() => stream.events.some((event) => event.event === 'connected'), 'connected');
    await stream.ends;
    expect(stream.ended).toBe(true);
    expect(stream.events.some((event) => event.event === 'ping')).toBe(false);
  }, 30_000);

  test('a stream for an unknown session is answered 404 SESSION_NOT_FOUND, not opened', async () => {
    const { http } = await startApp(250);
    await using _http = http;
    const response = await fetch(`${http.url}/trpc/session.events`, {
      headers: { accept: 'text/event-stream', 'x-session-id': randomUUID() },
    });
    expect(response.status).toBe(404);
    expect(JSON.stringify(await response.json())).toContain('SESSION_NOT_FOUND');
  });
});
