// Attacker's side of the rate limits, on real servers.
// - One address floods session.create: past the limit every answer is 429
//   RATE_LIMITED with Retry-After and the IETF RateLimit headers, nothing is
//   created for it, other addresses are served.
// - One session floods a node with requests: past `requestRateLimit` the
//   same 429, nothing stays in flight, other sessions are served, calls over
//   the session's WebSocket are refused too.
// With Redis both limits hold across nodes.
import { randomBytes } from 'node:crypto';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import { RedisStore } from '../redis/redis-store.js';
import { startHttpServer } from '../testing/http-server.js';
import { createSessionRouter } from '../trpc/session-router.js';
import { attachWebSocket } from '../ws/attach.js';
import { call, connect } from '../ws/testing/ws-server.js';
import { clientAddressOf } from './client-address.js';
import { errorHandler } from './error-handler.js';
import { sessionMiddleware } from './session-middleware.js';
import { trpcHandler } from './trpc.js';

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const policy = { limit: 5, windowMs: 60_000 };

let sharedPrefix = '';
beforeEach(() => {
  sharedPrefix = `${redis.keyPrefix}${randomBytes(4).toString('hex')}:`;
});
/** A Redis store of this test's nodes (one key prefix per test). */
const sharedStore = (nodeId: string) =>
  new RedisStore({ url: redis.url, keyPrefix: sharedPrefix, nodeId });

/** A node with both limits at `policy` unless `options` say otherwise, `GET /hello` and tRPC. */
async function startNode(options: SessionManagerOptions, refusalDelayMs = 0) {
  const manager = new SessionManager({
    createRateLimit: policy,
    requestRateLimit: policy,
    ...options,
  }).start();
  managers.push(manager);
  const app = express();
  app.set('trust proxy', 'loopback');
  app.use(sessionMiddleware(manager));
  app.get('/hello', (_req, res) => {
    res.json({ hello: true });
  });
  const router = createSessionRouter();
  app.use('/trpc', trpcHandler(manager, router, { refusalDelayMs }));
  app.use(errorHandler());
  const http = await startHttpServer(app);
  const ws = attachWebSocket(http.server, { manager, router, clientAddress: clientAddressOf(app) });
  return {
    manager,
    url: http.url,
    async [Symbol.asyncDispose]() {
      await ws.close({ drainTimeoutMs: 0 });
      await http.close();
    },
  };
}

function create(url: string, address: string) {
  return fetch(`${url}/trpc/session.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ json: { metadata: { pad: 'x'.repeat(100) } } }),
  });
}

describe('session creation per client address', () => {
  test('past the limit: 429 with Retry-After and RateLimit headers, nothing created, others served', async () => {
    await using node = await startNode({});
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await create(node.url, '203.0.113.7')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const refused = await create(node.url, '203.0.113.7');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toMatch(/^"create";r=0;t=\d+$/);
    expect(refused.headers.get('ratelimit-policy')).toBe('"create";q=5;w=60');
    expect(JSON.stringify(await refused.json())).toContain('"errorCode":"RATE_LIMITED"');
    expect(await node.manager.getActiveSessionCount()).toBe(5);
    expect((await create(node.url, '198.51.100.1')).status).toBe(200);
  });

  test('a refused address’s bodies are not even parsed: garbage answers 429, not 400', async () => {
    await using node = await startNode({ createRateLimit: { limit: 1, windowMs: 60_000 } });
    const garbage = (address: string) =>
      fetch(`${node.url}/trpc/session.create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
        body: '{"json": {"metadata": [[[[',
      });
    expect((await create(node.url, '203.0.113.8')).status).toBe(200);
    const refused = await garbage('203.0.113.8');
    expect(refused.status).toBe(429);
    expect(JSON.stringify(await refused.json())).toContain('"errorCode":"RATE_LIMITED"');
    // The same garbage from an address with allowance left is read, and refused as input.
    const parsed = await garbage('198.51.100.2');
    expect(parsed.status).toBe(400);
    expect(await node.manager.getActiveSessionCount()).toBe(1);
  });

  test('the answer before the body is read is the one tRPC gives, for a call and a batch', async () => {
    await using node = await startNode({ createRateLimit: { limit: 1, windowMs: 60_000 } });
    const address = '203.0.113.10';
    expect((await create(node.url, address)).status).toBe(200);
    // The first refusal goes through tRPC (the store counted it); later ones answer early.
    const viaTrpc = await create(node.url, address);
    const early = await create(node.url, address);
    expect([viaTrpc.status, early.status]).toEqual([429, 429]);
    expect(early.headers.get('ratelimit-policy')).toBe(viaTrpc.headers.get('ratelimit-policy'));
    expect(early.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await early.json()).toEqual(await viaTrpc.json());
    const batch = await fetch(`${node.url}/trpc/session.create,session.create?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify({ 0: { json: {} }, 1: { json: {} } }),
    });
    expect(batch.status).toBe(429);
    const envelope = (await batch.json()) as { error: { json: { data: { errorCode: string } } } };
    expect(envelope.error.json.data.errorCode).toBe('RATE_LIMITED');
    // A batch with another call in it is not refused whole: tRPC answers each call.
    const mixed = await fetch(`${node.url}/trpc/session.create,session.heartbeat?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify({ 0: { json: {} }, 1: { json: {} } }),
    });
    expect(Array.isArray(await mixed.json())).toBe(true);
    expect(await node.manager.getActiveSessionCount()).toBe(1);
  });

  test('an address that keeps asking while refused gets its 429s held, and others are served meanwhile', async () => {
    await using node = await startNode({ createRateLimit: { limit: 1, windowMs: 60_000 } }, 400);
    expect((await create(node.url, '203.0.113.20')).status).toBe(200);
    expect((await create(node.url, '203.0.113.20')).status).toBe(429); // counted by the store
    const started = performance.now();
    const held = create(node.url, '203.0.113.20'); // known on the node: held
    expect((await create(node.url, '198.51.100.20')).status).toBe(200);
    const refused = await held;
    // Held for the delay at least (a slower machine only makes it later).
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit')).toMatch(/^"create";r=0;t=\d+$/);
    expect(JSON.stringify(await refused.json())).toContain('"errorCode":"RATE_LIMITED"');
  });

  test('over WebSocket behind a trusted proxy, by the forwarded address, as over HTTP', async () => {
    await using node = await startNode({ createRateLimit: { limit: 1, windowMs: 60_000 } });
    const owner = await node.manager.createSession();
    const wsUrl = `${node.url.replace('http', 'ws')}/trpc`;
    const socketFrom = (address: string) =>
      connect(wsUrl, owner.sessionId, { headers: { 'x-forwarded-for': address } });
    const first = await socketFrom('198.51.100.7');
    const second = await socketFrom('198.51.100.8');
    const answers = [
      await call(first, 1, 'mutation', 'session.create', {}),
      await call(second, 1, 'mutation', 'session.create', {}),
      await call(first, 2, 'mutation', 'session.create', {}),
    ];
    expect(answers.slice(0, 2).every((answer) => answer.result !== undefined)).toBe(true);
    expect(JSON.stringify(answers[2])).toContain('"errorCode":"RATE_LIMITED"');
    // The same forwarded address over HTTP shares the allowance already spent.
    expect((await create(node.url, '198.51.100.8')).status).toBe(429);
    first.close();
    second.close();
  });

  test('over WebSocket, by the socket’s address', async () => {
    await using node = await startNode({ createRateLimit: { limit: 2, windowMs: 60_000 } });
    const owner = await node.manager.createSession();
    const socket = await connect(`${node.url.replace('http', 'ws')}/trpc`, owner.sessionId);
    const answers = [];
    for (let id = 1; id <= 3; id += 1) {
      answers.push(await call(socket, id, 'mutation', 'session.create', {}));
    }
    expect(answers.slice(0, 2).every((answer) => answer.result !== undefined)).toBe(true);
    expect(JSON.stringify(answers[2])).toContain('"errorCode":"RATE_LIMITED"');
    expect(await node.manager.getActiveSessionCount()).toBe(3);
    socket.close();
  });

  test('with Redis the limit holds across nodes', async () => {
    await using a = await startNode({ store: sharedStore('a') });
    await using b = await startNode({ store: sharedStore('b') });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      statuses.push((await create(i % 2 === 0 ? a.url : b.url, '203.0.113.9')).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await a.manager.getActiveSessionCount()).toBe(5);
  });
});

const hello = (url: string, sessionId: string) =>
  fetch(`${url}/hello`, { headers: { 'x-session-id': sessionId } });

describe('requests per session', () => {
  test('past the limit: 429 with Retry-After and RateLimit headers, nothing left in flight, others served', async () => {
    await using node = await startNode({});
    const { sessionId } = await node.manager.createSession();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await hello(node.url, sessionId)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const refused = await hello(node.url, sessionId);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toMatch(/^"session";r=0;t=\d+$/);
    expect(refused.headers.get('ratelimit-policy')).toBe('"session";q=5;w=60');
    expect(await refused.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect((await node.manager.getSession(sessionId))?.activeRequests).toEqual([]);
    expect(node.manager.activeRequestCount).toBe(0);
    const other = await node.manager.createSession();
    expect((await hello(node.url, other.sessionId)).status).toBe(200);
  });

  test('tRPC calls over HTTP and over the session’s WebSocket count and are refused alike', async () => {
    await using node = await startNode({ requestRateLimit: { limit: 3, windowMs: 60_000 } });
    const { sessionId } = await node.manager.createSession();
    const get = await fetch(`${node.url}/trpc/session.get`, {
      headers: { 'x-session-id': sessionId },
    });
    expect(get.status).toBe(200);
    const socket = await connect(`${node.url.replace('http', 'ws')}/trpc`, sessionId);
    const answers = [];
    for (let id = 1; id <= 3; id += 1) {
      answers.push(await call(socket, id, 'query', 'session.get', undefined));
    }
    expect(answers.slice(0, 2).every((answer) => answer.result !== undefined)).toBe(true);
    expect(JSON.stringify(answers[2])).toContain('"errorCode":"RATE_LIMITED"');
    const refused = await fetch(`${node.url}/trpc/session.get`, {
      headers: { 'x-session-id': sessionId },
    });
    expect(refused.status).toBe(429);
    expect(JSON.stringify(await refused.json())).toContain('"errorCode":"RATE_LIMITED"');
    socket.close();
  });

  test('with Redis the limit holds across nodes', async () => {
    await using a = await startNode({ store: sharedStore('a') });
    await using b = await startNode({ store: sharedStore('b') });
    const { sessionId } = await a.manager.createSession();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      statuses.push((await hello(i % 2 === 0 ? a.url : b.url, sessionId)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect((await b.manager.getSession(sessionId))?.activeRequests).toEqual([]);
  });

  test('off with requestRateLimit: false', async () => {
    await using node = await startNode({ requestRateLimit: false });
    const { sessionId } = await node.manager.createSession();
    for (let i = 0; i < 8; i += 1) expect((await hello(node.url, sessionId)).status).toBe(200);
  });
});
