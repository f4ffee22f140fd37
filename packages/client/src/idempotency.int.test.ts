import { describe, expect, it } from 'vitest';
import { serverErrorCode } from './errors.js';
import { idempotencyKeys } from './opt-in/idempotency.js';
import type { FetchLike } from './options.js';
import { recordedClient } from './testing/client.js';
import { startTestServer, type TestServer } from './testing/server.js';

const COUNT = 'POST /trpc/test.count';

function keysOf(server: TestServer, request: string): (string | undefined)[] {
  return server.idempotencyKeys.filter((_, index) => server.requests[index] === request);
}

/**
 * A fetch whose first `test.count` request reaches the server, which runs
 * it, but whose answer is lost on the way back, as when the connection
 * drops after the server wrote it.
 */
function losingFirstAnswer(): FetchLike {
  let lost = false;
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!lost && String(input).includes('/trpc/test.count')) {
      lost = true;
      await response.arrayBuffer();
      throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
    }
    return response;
  };
}

describe('exactly-once mutations against a real server', () => {
  it('stamps each mutation with one key, kept by its replay after a lost answer: it runs once', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { fetch: losingFirstAnswer() });
    await rec.client.connect();
    expect(await rec.client.trpc.test.count.mutate()).toBe(1);
    expect(server.counters.countRuns).toBe(1);
    const [first, replay] = keysOf(server, COUNT);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(replay).toBe(first);
    // The next call is another call: a new key, and it runs.
    expect(await rec.client.trpc.test.count.mutate()).toBe(2);
    expect(new Set(keysOf(server, COUNT)).size).toBe(2);
    // session.create and the heartbeats (idempotent anyway) are never stamped.
    await rec.until(() => rec.log.heartbeat.length >= 1, 'a heartbeat');
    for (const request of ['POST /trpc/session.create', 'POST /trpc/session.heartbeat']) {
      expect(keysOf(server, request).length).toBeGreaterThan(0);
      expect(keysOf(server, request).every((key) => key === undefined)).toBe(true);
    }
  });

  it('sends mutations unbatched, each with its own key, when several go out at once', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    await rec.client.connect();
    const answers = await Promise.all([1, 2, 3].map(() => rec.client.trpc.test.count.mutate()));
    expect(answers.sort()).toEqual([1, 2, 3]);
    const keys = keysOf(server, COUNT);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(3);
  });

  it('replays a keyed mutation turned away with 503, which then runs once', async () => {
    await using server = await startTestServer({ manager: { maxConcurrentRequests: 1 } });
    await using rec = recordedClient(server);
    await rec.client.connect();
    await rec.until(() => rec.log.heartbeat.length === 1, 'the first heartbeat');
    server.holdRequests();
    const held = fetch(`${server.url}/hold`);
    for (let i = 0; i < 1_000 && !server.requests.includes('GET /hold'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    server.releaseHoldOn(COUNT);
    const answer = rec.client.trpc.test.count.mutate();
    await held;
    expect(await answer).toBe(1);
    expect(server.counters.countRuns).toBe(1);
    const keys = keysOf(server, COUNT);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('carries the key over the WebSocket too: the same key over HTTP answers the same call', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    await rec.client.connect();
    const overWs = await rec.client.trpc.test.count.mutate(undefined, {
      context: { morganTransport: 'ws', idempotencyKey: 'app-key-1' },
    });
    const overHttp = await rec.client.trpc.test.count.mutate(undefined, {
      context: { idempotencyKey: 'app-key-1' },
    });
    expect([overWs, overHttp]).toEqual([1, 1]);
    expect(server.counters.countRuns).toBe(1);
    expect(keysOf(server, COUNT)).toEqual(['app-key-1']);
  });

  it('resends a keyed mutation whose WebSocket was cut while it ran: it runs once', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    await rec.client.connect();
    await rec.until(() => rec.client.state === 'connected' && server.socketCount === 1, 'a socket');
    let open!: () => void;
    server.counters.countGate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const answer = rec.client.trpc.test.count.mutate(undefined, {
      context: { morganTransport: 'ws' },
    });
    await rec.until(() => server.counters.countRuns === 1, 'the call running');
    await server.cut();
    open();
    server.counters.countGate = undefined;
    await server.listen();
    expect(await answer).toBe(1);
    expect(server.counters.countRuns).toBe(1);
  });

  it('fails a mutation whose session ended while it ran, without resending it under a new session', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const { sessionId } = await rec.client.connect();
    const failure = await rec.client.trpc.test.endSession.mutate().catch((error: unknown) => error);
    expect(serverErrorCode(failure)).toBe('SESSION_NOT_FOUND');
    expect((failure as Error).message).toContain('not sent again under a new session');
    expect(server.counters.countRuns).toBe(1);
    expect(
      server.requests.filter((request) => request === 'POST /trpc/test.endSession'),
    ).toHaveLength(1);
    // A call the server turned away before it ran is still resent under a new session.
    expect(await rec.client.trpc.test.count.mutate()).toBe(2);
    expect(rec.client.sessionId).not.toBe(sessionId);
  });

  it('with idempotencyKeys({ stamp: false }), sends no key (unless a call gives one)', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, {
      idempotencyKeys: idempotencyKeys({ stamp: false }),
    });
    await rec.client.connect();
    await rec.client.trpc.test.count.mutate();
    await rec.client.trpc.test.count.mutate(undefined, { context: { idempotencyKey: 'given' } });
    expect(keysOf(server, COUNT)).toEqual([undefined, 'given']);
  });
});
