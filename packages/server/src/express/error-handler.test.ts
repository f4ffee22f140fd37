import express from 'express';
import { afterEach, describe, expect, test } from 'vitest';
import { CapacityError, ErrorCode, MorganError, StoreUnavailableError } from '../errors.js';
import { SessionManager } from '../manager.js';
import { startHttpServer } from '../testing/http-server.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { sessionMiddleware } from './session-middleware.js';

const manager = new SessionManager();
afterEach(async () => {
  await manager.stop({ drainTimeoutMs: 0 });
});

function createApp(onInternalError: (error: unknown) => void) {
  const app = express();
  app.use(sessionMiddleware(manager));
  app.post('/json', express.json({ limit: '1kb' }), (req, res) => {
    res.json({ received: req.body as unknown });
  });
  app.get('/boom', () => {
    throw new Error('secret internals at /srv/app.js:12');
  });
  app.get('/boom-async', async () => {
    await Promise.resolve();
    throw new Error('secret async internals');
  });
  app.get('/morgan', () => {
    throw new MorganError(ErrorCode.RATE_LIMITED, 'Slow down');
  });
  app.get('/store-down', () => {
    throw new StoreUnavailableError('Redis is unavailable');
  });
  app.get('/at-capacity', () => {
    throw new CapacityError(3);
  });
  app.use(notFoundHandler());
  app.use(errorHandler({ onInternalError }));
  return app;
}

async function expectJsonError(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const text = await res.text();
  expect(text).not.toMatch(/<html|<pre|\bat \S+ \(|secret/i);
  expect(JSON.parse(text)).toEqual({ error: { code, message: expect.any(String) } });
  return text;
}

describe('JSON errors', () => {
  test('a malformed JSON body answers 400 INVALID_REQUEST as JSON', async () => {
    await using http = await startHttpServer(createApp(() => {}));
    const res = await fetch(`${http.url}/json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"message": "unterminated',
    });
    await expectJsonError(res, 400, 'INVALID_REQUEST');
    const ok = await fetch(`${http.url}/json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"message":"hi"}',
    });
    expect(await ok.json()).toEqual({ received: { message: 'hi' } });
  });

  test('a body over the limit answers 413 PAYLOAD_TOO_LARGE as JSON', async () => {
    await using http = await startHttpServer(createApp(() => {}));
    const res = await fetch(`${http.url}/json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'x'.repeat(4096) }),
    });
    await expectJsonError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  test('an unknown route answers JSON 404 ROUTE_NOT_FOUND', async () => {
    await using http = await startHttpServer(createApp(() => {}));
    await expectJsonError(await fetch(`${http.url}/nowhere`), 404, 'ROUTE_NOT_FOUND');
    await expectJsonError(await fetch(`${http.url}/json`), 404, 'ROUTE_NOT_FOUND');
  });

  test('a thrown error answers 500 INTERNAL_ERROR without message or stack; the hook sees it', async () => {
    const seen: unknown[] = [];
    await using http = await startHttpServer(createApp((error) => seen.push(error)));
    await expectJsonError(await fetch(`${http.url}/boom`), 500, 'INTERNAL_ERROR');
    await expectJsonError(await fetch(`${http.url}/boom-async`), 500, 'INTERNAL_ERROR');
    expect(seen.map((error) => (error as Error).message)).toEqual([
      'secret internals at /srv/app.js:12',
      'secret async internals',
    ]);
  });

  test('a MorganError keeps its code and status', async () => {
    await using http = await startHttpServer(createApp(() => {}));
    const limited = await fetch(`${http.url}/morgan`);
    // SPEC: a 429 says when to come back too.
    expect(limited.headers.get('retry-after')).toBe('1');
    const text = await expectJsonError(limited, 429, 'RATE_LIMITED');
    expect(JSON.parse(text).error.message).toBe('Slow down');
  });

  test('a 503 tells when to retry: Retry-After 1, or the seconds the error carries', async () => {
    await using http = await startHttpServer(createApp(() => {}));
    const down = await fetch(`${http.url}/store-down`);
    expect(down.headers.get('retry-after')).toBe('1');
    await expectJsonError(down, 503, 'STORE_UNAVAILABLE');
    const busy = await fetch(`${http.url}/at-capacity`);
    expect(busy.headers.get('retry-after')).toBe('3');
    await expectJsonError(busy, 503, 'SERVER_AT_CAPACITY');
  });
});
