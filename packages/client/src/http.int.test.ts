import { describe, expect, it } from 'vitest';
import { serverErrorCode } from './errors.js';
import { idempotencyKeys } from './opt-in/idempotency.js';
import { recordedClient } from './testing/client.js';
import { startTestServer, type TestServer } from './testing/server.js';

/** Fills the server's only capacity slot with a held plain request. */
async function fillCapacity(server: TestServer): Promise<{ held: Promise<Response> }> {
  server.holdRequests();
  const before = count(server, 'GET /hold');
  const held = fetch(`${server.url}/hold`);
  await waitFor(() => count(server, 'GET /hold') === before + 1);
  return { held };
}

async function waitFor(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !predicate(); i += 1)
    await new Promise((resolve) => setTimeout(resolve, 10));
  if (!predicate()) throw new Error('condition not reached');
}

function count(server: TestServer, request: string): number {
  return server.requests.filter((entry) => entry === request).length;
}

/** When the server saw each `request`, in ms (`performance.now()`). */
function arrivals(server: TestServer, request: string): number[] {
  return server.requestTimes.filter((_, index) => server.requests[index] === request);
}

describe('HTTP retries against a real server', () => {
  it('retries a query turned away with 503 only after Retry-After, and it succeeds once capacity frees', async () => {
    await using server = await startTestServer({
      manager: { maxConcurrentRequests: 1 },
      retryAfterSeconds: 2,
    });
    await using rec = recordedClient(server);
    const { sessionId } = await rec.client.connect();
    await rec.until(() => rec.log.heartbeat.length === 1, 'the first heartbeat');
    const { held } = await fillCapacity(server);

    // The first attempt is turned away; capacity frees right behind it.
    server.releaseHoldOn('GET /trpc/test.whoami');
    const answer = rec.client.trpc.test.whoami.query();
    await held;
    expect(await answer).toBe(sessionId);
    expect(count(server, 'GET /trpc/test.whoami')).toBe(2);
    // The retry waited for `Retry-After: 2`, measured where the server saw both
    // attempts (a slow machine only makes the gap longer). Jitter alone is under
    // 250 ms; the margin below 2 s allows for a late-read clock when the timer was set.
    const [first, second] = arrivals(server, 'GET /trpc/test.whoami');
    expect(second! - first!).toBeGreaterThanOrEqual(1_000);
  });

  it('without idempotency keys, does not replay a mutation turned away with 503; the caller gets SERVER_AT_CAPACITY', async () => {
    await using server = await startTestServer({ manager: { maxConcurrentRequests: 1 } });
    await using rec = recordedClient(server, {
      idempotencyKeys: idempotencyKeys({ stamp: false }),
    });
    await rec.client.connect();
    await rec.until(() => rec.log.heartbeat.length === 1, 'the first heartbeat');
    const { held } = await fillCapacity(server);

    const failure = await rec.client.trpc.test.count.mutate().catch((error: unknown) => error);
    expect(serverErrorCode(failure)).toBe('SERVER_AT_CAPACITY');
    expect((failure as { data?: { httpStatus?: number } }).data?.httpStatus).toBe(503);
    server.releaseHold();
    await held;
    expect(count(server, 'POST /trpc/test.count')).toBe(1);
    expect(server.counters.countRuns).toBe(0);
  });

  it('replays a mutation marked idempotent, by call context or by path', async () => {
    await using server = await startTestServer({ manager: { maxConcurrentRequests: 1 } });
    await using rec = recordedClient(server, {
      idempotencyKeys: idempotencyKeys({ stamp: false }),
      http: { idempotentPaths: ['test.count'] },
    });
    await rec.client.connect();
    await rec.until(() => rec.log.heartbeat.length === 1, 'the first heartbeat');

    let { held } = await fillCapacity(server);
    server.releaseHoldOn('POST /trpc/test.count');
    const byPath = rec.client.trpc.test.count.mutate();
    await held;
    expect(await byPath).toBe(1);
    expect(count(server, 'POST /trpc/test.count')).toBe(2);

    await using plain = recordedClient(server, {
      idempotencyKeys: idempotencyKeys({ stamp: false }),
    });
    await plain.client.connect();
    await plain.until(() => plain.log.heartbeat.length === 1, 'the first heartbeat');
    ({ held } = await fillCapacity(server));
    server.releaseHoldOn('POST /trpc/test.count');
    const byContext = plain.client.trpc.test.count.mutate(undefined, {
      context: { idempotent: true },
    });
    await held;
    expect(await byContext).toBe(2);
    expect(count(server, 'POST /trpc/test.count')).toBe(4);
  });

  it('retries a query answered 429 with backoff', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    await rec.client.connect();
    server.counters.limitedFailures = 2;
    expect(await rec.client.trpc.test.limited.query()).toBe('ok');
    expect(count(server, 'GET /trpc/test.limited')).toBe(3);
  });

  it('gives up after maxRetries and reports the status', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { http: { maxRetries: 1 } });
    await rec.client.connect();
    server.counters.limitedFailures = 5;
    const failure = await rec.client.trpc.test.limited.query().catch((error: unknown) => error);
    expect(serverErrorCode(failure)).toBe('RATE_LIMITED');
    expect(count(server, 'GET /trpc/test.limited')).toBe(2);
  });

  it('fetch(): retries GET after a 429 whose Retry-After is an HTTP date, never a POST after 503', async () => {
    await using server = await startTestServer({ manager: { maxConcurrentRequests: 1 } });
    await using rec = recordedClient(server);
    await rec.client.connect();
    await rec.until(() => rec.log.heartbeat.length === 1, 'the first heartbeat');
    server.counters.plainLimitedFailures = 1;
    const limited = await rec.client.fetch('/api/limited');
    expect(limited.status).toBe(200);
    expect(count(server, 'GET /api/limited')).toBe(2);

    const { held } = await fillCapacity(server);
    const post = await rec.client.fetch('/api/count', { method: 'POST' });
    expect(post.status).toBe(503);
    expect(post.headers.get('retry-after')).toBe('1');
    expect(await post.json()).toMatchObject({ error: { code: 'SERVER_AT_CAPACITY' } });
    server.releaseHold();
    await held;
    expect(count(server, 'POST /api/count')).toBe(1);
    expect(server.counters.countRuns).toBe(0);
  });

  it('replaces a session the server lost and sends the call again with the new id, once for every caller', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const { sessionId } = await rec.client.connect();
    await server.manager.deleteSession(sessionId);
    const [viaTrpc, viaFetch] = await Promise.all([
      rec.client.trpc.test.whoami.query(),
      rec.client
        .fetch('/api/whoami')
        .then((response) => response.json() as Promise<{ sessionId: string }>),
    ]);
    const newId = rec.client.sessionId;
    expect(newId).not.toBe(sessionId);
    expect(viaTrpc).toBe(newId);
    expect(viaFetch.sessionId).toBe(newId);
    await rec.until(
      () => rec.client.state === 'connected' && server.socketCount === 1,
      'the socket of the new session',
    );
    expect(rec.log['session-replaced']).toEqual([
      [{ previousSessionId: sessionId, sessionId: newId, reason: 'not-found' }],
    ]);
    expect((await server.manager.getMetrics()).totalSessionsCreated).toBe(2);
  });
});
