import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { deleteKeys, type RedisTestServer, startRedis } from '@morgan/test-support';
import express from 'express';
import superjson from 'superjson';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { ErrorCode, MorganError } from '../errors.js';
import { sessionMiddleware } from '../express/session-middleware.js';
import { trpcHandler } from '../express/trpc.js';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import { RedisStore } from '../redis/redis-store.js';
import { memoryIdempotencyLimits } from '../store/idempotency-records.js';
import { MemoryStore } from '../store/memory.js';
import { startHttpServer } from '../testing/http-server.js';
import { attachWebSocket } from '../ws/attach.js';
import { MAX_STORED_OUTCOME_CHARS } from './idempotency.js';
import { mergeRouters, router, sessionProcedure } from './init.js';
import { createSessionRouter } from './session-router.js';

/** What the procedures of one node did. */
interface Runs {
  add: number;
  fail: number;
  reject: number;
  /** Opens the `slow` call that waits. */
  release?: () => void;
  slowStarted?: () => void;
}

function appRouter(runs: Runs) {
  return mergeRouters(
    createSessionRouter(),
    router({
      counter: router({
        add: sessionProcedure.input(z.object({ n: z.number() })).mutation(({ input }) => {
          runs.add += 1;
          return { run: runs.add, n: input.n, at: new Date(1_700_000_000_000 + runs.add) };
        }),
        slow: sessionProcedure.mutation(async () => {
          runs.add += 1;
          runs.slowStarted?.();
          await new Promise<void>((resolve) => {
            runs.release = resolve;
          });
          return { run: runs.add };
        }),
        fail: sessionProcedure.mutation(() => {
          runs.fail += 1;
          if (runs.fail === 1) throw new Error('transient');
          return { run: runs.fail };
        }),
        reject: sessionProcedure.mutation(() => {
          runs.reject += 1;
          throw new MorganError(ErrorCode.CONFLICT, `no (${runs.reject})`);
        }),
        big: sessionProcedure.mutation(() => {
          runs.add += 1;
          return 'x'.repeat(MAX_STORED_OUTCOME_CHARS + 1);
        }),
      }),
    }),
  );
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** One node: Express with HTTP tRPC and the WebSocket layer on one real server. */
async function startNode(options: SessionManagerOptions = {}) {
  const manager = new SessionManager(options).start();
  const runs: Runs = { add: 0, fail: 0, reject: 0 };
  const router = appRouter(runs);
  const app = express();
  app.use(sessionMiddleware(manager));
  app.use('/trpc', trpcHandler(manager, router, { onInternalError: () => {} }));
  const http = await startHttpServer(app);
  const ws = attachWebSocket(http.server, { manager, router });
  stops.push(async () => {
    await ws.close({ drainTimeoutMs: 0 });
    await http.close();
    await manager.stop({ drainTimeoutMs: 0 });
  });
  const session = await manager.createSession();

  /** POST one mutation; the parsed answer. */
  async function mutate(
    path: string,
    input: unknown,
    headers: Record<string, string> = {},
    sessionId = session.sessionId,
  ) {
    const response = await fetch(`${http.url}/trpc/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-session-id': sessionId, ...headers },
      body: JSON.stringify(superjson.serialize(input)),
    });
    const body = (await response.json()) as {
      result?: { data: Parameters<typeof superjson.deserialize>[0] };
      error?: { json: { message: string; data: { errorCode: string } } };
    };
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      data: body.result === undefined ? undefined : superjson.deserialize(body.result.data),
      errorCode: body.error?.json.data.errorCode,
      message: body.error?.json.message,
    };
  }

  return { manager, runs, http, session, mutate, url: http.url };
}

type Node = Awaited<ReturnType<typeof startNode>>;

/** A raw WebSocket of `node`'s session, past `connectionParams`. */
async function openSocket(node: Node) {
  const socket = new WebSocket(`${node.url.replace('http', 'ws')}/trpc?connectionParams=1`);
  await once(socket, 'open');
  socket.send(
    JSON.stringify({ method: 'connectionParams', data: { sessionId: node.session.sessionId } }),
  );
  const answers = new Map<number, (answer: WsAnswer) => void>();
  socket.on('message', (raw) => {
    const answer = JSON.parse(String(raw)) as WsAnswer;
    answers.get(answer.id)?.(answer);
  });
  stops.push(async () => {
    socket.terminate();
  });
  let id = 0;
  /** Sends calls (one message; several make a batch) and resolves with their answers. */
  const send = (calls: { path: string; input?: unknown; key?: unknown }[]): Promise<WsAnswer[]> => {
    const messages = calls.map(({ path, input, key }) => ({
      id: ++id,
      method: 'mutation',
      params: {
        path,
        input: superjson.serialize(input),
        ...(key === undefined ? {} : { idempotencyKey: key }),
      },
    }));
    const done = messages.map(
      (message) => new Promise<WsAnswer>((resolve) => answers.set(message.id, resolve)),
    );
    socket.send(JSON.stringify(messages.length === 1 ? messages[0] : messages));
    return Promise.all(done);
  };
  return { socket, send };
}

interface WsAnswer {
  id: number;
  result?: { data: Parameters<typeof superjson.deserialize>[0] };
  error?: { json: { data: { errorCode: string } } };
}

const errorCode = (answer: WsAnswer | undefined) => answer?.error?.json.data.errorCode;

const data = (answer: WsAnswer | undefined) =>
  answer?.result === undefined ? undefined : superjson.deserialize(answer.result.data);

describe('exactly-once mutations over HTTP', () => {
  it('answers a repeat with the first result (Dates included); the handler runs once', async () => {
    const node = await startNode();
    const first = await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'key-1' });
    const again = await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'key-1' });
    expect(first.status).toBe(200);
    expect(again).toEqual(first);
    expect((again.data as { at: Date }).at).toBeInstanceOf(Date);
    expect(node.runs.add).toBe(1);
    // Another key, or none, runs again.
    expect(
      (await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'key-2' })).data,
    ).toMatchObject({ run: 2 });
    expect((await node.mutate('counter.add', { n: 1 })).data).toMatchObject({ run: 3 });
  });

  it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with another input or path', async () => {
    const node = await startNode();
    await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'k' });
    const otherInput = await node.mutate('counter.add', { n: 2 }, { 'Idempotency-Key': 'k' });
    expect(otherInput).toMatchObject({ status: 422, errorCode: ErrorCode.IDEMPOTENCY_KEY_REUSED });
    const otherPath = await node.mutate('counter.fail', undefined, { 'Idempotency-Key': 'k' });
    expect(otherPath).toMatchObject({ status: 422, errorCode: ErrorCode.IDEMPOTENCY_KEY_REUSED });
    expect(node.runs).toMatchObject({ add: 1, fail: 0 });
  });

  it('answers 409 REQUEST_IN_PROGRESS with Retry-After while the first runs, then its result', async () => {
    const node = await startNode();
    const started = new Promise<void>((resolve) => {
      node.runs.slowStarted = resolve;
    });
    const first = node.mutate('counter.slow', undefined, { 'Idempotency-Key': 'slow' });
    await started;
    const during = await node.mutate('counter.slow', undefined, { 'Idempotency-Key': 'slow' });
    expect(during).toMatchObject({
      status: 409,
      errorCode: ErrorCode.REQUEST_IN_PROGRESS,
      retryAfter: '1',
    });
    node.runs.release?.();
    expect(await first).toMatchObject({ status: 200, data: { run: 1 } });
    const after = await node.mutate('counter.slow', undefined, { 'Idempotency-Key': 'slow' });
    expect(after).toMatchObject({ status: 200, data: { run: 1 } });
    expect(node.runs.add).toBe(1);
  });

  it('runs a repeat afresh after a transient failure, and remembers a client error', async () => {
    const node = await startNode();
    const failed = await node.mutate('counter.fail', undefined, { 'Idempotency-Key': 'f' });
    expect(failed).toMatchObject({ status: 500, errorCode: ErrorCode.INTERNAL_ERROR });
    const rerun = await node.mutate('counter.fail', undefined, { 'Idempotency-Key': 'f' });
    expect(rerun).toMatchObject({ status: 200, data: { run: 2 } });

    const rejected = await node.mutate('counter.reject', undefined, { 'Idempotency-Key': 'r' });
    const repeated = await node.mutate('counter.reject', undefined, { 'Idempotency-Key': 'r' });
    expect(rejected).toMatchObject({
      status: 409,
      errorCode: ErrorCode.CONFLICT,
      message: 'no (1)',
    });
    expect(repeated).toEqual(rejected);
    expect(node.runs.reject).toBe(1);
  });

  it('answers 400 INVALID_IDEMPOTENCY_KEY for malformed keys and keyed batches, running nothing', async () => {
    const node = await startNode();
    for (const key of ['', 'has space', 'x'.repeat(256), 'tab\there', 'é']) {
      const response = await fetch(`${node.url}/trpc/counter.add`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-session-id': node.session.sessionId,
          // fetch refuses non-Latin-1 header values; send é as its raw byte.
          'idempotency-key': key === 'é' ? '\u00e9' : key,
        },
        body: JSON.stringify(superjson.serialize({ n: 1 })),
      });
      const body = (await response.json()) as { error: { json: { data: { errorCode: string } } } };
      expect([key, response.status, body.error.json.data.errorCode]).toEqual([
        key,
        400,
        ErrorCode.INVALID_IDEMPOTENCY_KEY,
      ]);
    }
    const batch = await fetch(`${node.url}/trpc/counter.add,counter.add?batch=1`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-session-id': node.session.sessionId,
        'idempotency-key': 'batched',
      },
      body: JSON.stringify({ 0: superjson.serialize({ n: 1 }), 1: superjson.serialize({ n: 2 }) }),
    });
    const answers = (await batch.json()) as { error: { json: { data: { errorCode: string } } } }[];
    expect(answers.map((answer) => answer.error.json.data.errorCode)).toEqual([
      ErrorCode.INVALID_IDEMPOTENCY_KEY,
      ErrorCode.INVALID_IDEMPOTENCY_KEY,
    ]);
    expect(node.runs.add).toBe(0);
  });

  it('keeps keys per session: the same key in another session runs again', async () => {
    const node = await startNode();
    const other = await node.manager.createSession();
    await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'shared' });
    const second = await node.mutate(
      'counter.add',
      { n: 1 },
      { 'Idempotency-Key': 'shared' },
      other.sessionId,
    );
    expect(second.data).toMatchObject({ run: 2 });
  });

  it('answers a repeat of a call whose result was too large with 422, without running it again', async () => {
    const node = await startNode();
    const first = await node.mutate('counter.big', undefined, { 'Idempotency-Key': 'big' });
    expect(first.status).toBe(200);
    const again = await node.mutate('counter.big', undefined, { 'Idempotency-Key': 'big' });
    expect(again).toMatchObject({ status: 422, errorCode: ErrorCode.IDEMPOTENCY_KEY_REUSED });
    expect(again.message).toContain('larger than');
    expect(node.runs.add).toBe(1);
  });

  it('forgets a result after idempotencyWindowMs', async () => {
    const node = await startNode({ idempotencyWindowMs: 20 });
    await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'w' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const later = await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'w' });
    expect(later.data).toMatchObject({ run: 2 });
  });

  it('bounds what one session can make the memory store keep, however many keys it sends', async () => {
    const store = new MemoryStore();
    const node = await startNode({ store, requestRateLimit: false });
    const keys = memoryIdempotencyLimits.maxKeysPerSession + 200;
    for (let i = 0; i < keys; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          node.mutate('counter.add', { n: i + j }, { 'Idempotency-Key': `k-${i + j}` }),
        ),
      );
    }
    expect(node.runs.add).toBe(keys);
    expect(store.idempotencyKeyCount(node.session.sessionId)).toBe(
      memoryIdempotencyLimits.maxKeysPerSession,
    );
    // The newest are kept; the session's records go with it.
    const last = `k-${keys - 1}`;
    expect(
      (await node.mutate('counter.add', { n: keys - 1 }, { 'Idempotency-Key': last })).data,
    ).toMatchObject({ run: keys });
    await node.manager.deleteSession(node.session.sessionId);
    expect(store.idempotencySessionCount).toBe(0);
  });
});

describe('exactly-once mutations over WebSocket', () => {
  it('answers a repeat with the first result, also in a batch and on another socket', async () => {
    const node = await startNode();
    const a = await openSocket(node);
    const [first] = await a.send([{ path: 'counter.add', input: { n: 1 }, key: 'ws-1' }]);
    expect(data(first)).toMatchObject({ run: 1, n: 1 });
    const b = await openSocket(node);
    const [again, fresh, unkeyed] = await b.send([
      { path: 'counter.add', input: { n: 1 }, key: 'ws-1' },
      { path: 'counter.add', input: { n: 5 }, key: 'ws-2' },
      { path: 'counter.add', input: { n: 6 } },
    ]);
    expect(data(again)).toEqual(data(first));
    // The two new calls of the batch run concurrently, in either order.
    expect(data(fresh)).toMatchObject({ n: 5 });
    expect(data(unkeyed)).toMatchObject({ n: 6 });
    // The same key over HTTP is the same call.
    const http = await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'ws-1' });
    expect(http.data).toEqual(data(first));
    expect(node.runs.add).toBe(3);
  });

  it('answers 409 while the first runs, 422 for other input, 400 for a malformed key', async () => {
    const node = await startNode();
    const socket = await openSocket(node);
    const started = new Promise<void>((resolve) => {
      node.runs.slowStarted = resolve;
    });
    const first = socket.send([{ path: 'counter.slow', key: 'slow' }]);
    await started;
    const [during] = await socket.send([{ path: 'counter.slow', key: 'slow' }]);
    expect(errorCode(during)).toBe(ErrorCode.REQUEST_IN_PROGRESS);
    node.runs.release?.();
    expect(data((await first)[0])).toEqual({ run: 1 });
    const [reused] = await socket.send([{ path: 'counter.add', input: { n: 1 }, key: 'slow' }]);
    expect(errorCode(reused)).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
    for (const key of [42, '', 'a b', { k: 1 }]) {
      const [bad] = await socket.send([{ path: 'counter.add', input: { n: 1 }, key }]);
      expect(errorCode(bad)).toBe(ErrorCode.INVALID_IDEMPOTENCY_KEY);
    }
    expect(node.runs.add).toBe(1);
    // The socket lives on.
    expect(socket.socket.readyState).toBe(WebSocket.OPEN);
  });
});

describe('exactly-once mutations over a shared socket (?mux=1)', () => {
  it('keeps each channel’s keys in its own session, in batches too', async () => {
    const node = await startNode();
    const other = await node.manager.createSession();
    const socket = new WebSocket(`${node.url.replace('http', 'ws')}/trpc?mux=1`);
    stops.push(async () => {
      socket.terminate();
    });
    await once(socket, 'open');
    const answers = new Map<string, (answer: WsAnswer) => void>();
    socket.on('message', (raw) => {
      const envelope = JSON.parse(String(raw)) as { c: number; t: string; d?: string };
      if (envelope.t !== 'm' || envelope.d === undefined) return;
      const answer = JSON.parse(envelope.d) as WsAnswer;
      answers.get(`${envelope.c}/${answer.id}`)?.(answer);
    });
    const envelope = (c: number, t: string, d?: unknown) =>
      socket.send(JSON.stringify(d === undefined ? { c, t } : { c, t, d: JSON.stringify(d) }));
    for (const [c, sessionId] of [
      [1, node.session.sessionId],
      [2, other.sessionId],
    ] as const) {
      envelope(c, 'o');
      envelope(c, 'm', { method: 'connectionParams', data: { sessionId } });
    }
    let id = 0;
    /** Both channels number their calls alike: the same ids meet on the server. */
    const send = (c: number, calls: { input: { n: number }; key: string }[]) => {
      const base = id;
      const messages = calls.map(({ input, key }, i) => ({
        id: base + i + 1,
        method: 'mutation',
        params: { path: 'counter.add', input: superjson.serialize(input), idempotencyKey: key },
      }));
      const done = messages.map(
        (message) => new Promise<WsAnswer>((resolve) => answers.set(`${c}/${message.id}`, resolve)),
      );
      envelope(c, 'm', messages.length === 1 ? messages[0] : messages);
      return Promise.all(done);
    };
    const [first] = await send(1, [{ input: { n: 1 }, key: 'k' }]);
    expect(data(first)).toMatchObject({ run: 1, n: 1 });
    // The other tab's session runs the same key afresh, with the same request id.
    const [elsewhere] = await send(2, [{ input: { n: 1 }, key: 'k' }]);
    expect(data(elsewhere)).toMatchObject({ run: 2, n: 1 });
    id = 1;
    const [again, fresh] = await send(1, [
      { input: { n: 1 }, key: 'k' },
      { input: { n: 5 }, key: 'k5' },
    ]);
    expect(data(again)).toEqual(data(first));
    expect(data(fresh)).toMatchObject({ run: 3, n: 5 });
    const http = await node.mutate('counter.add', { n: 1 }, { 'Idempotency-Key': 'k' });
    expect(http.data).toEqual(data(first));
    expect(node.runs.add).toBe(3);
  });
});

describe('exactly-once mutations across nodes sharing Redis', () => {
  let redis: RedisTestServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('answers a repeat on node B with node A’s result', async () => {
    const keyPrefix = `idem-${randomBytes(4).toString('hex')}:`;
    const store = () => new RedisStore({ url: redis.url, keyPrefix });
    const a = await startNode({ store: store() });
    const b = await startNode({ store: store() });
    stops.push(() => deleteKeys(redis.url, `${keyPrefix}*`));
    const first = await a.mutate('counter.add', { n: 7 }, { 'Idempotency-Key': 'across' });
    const onB = await b.mutate(
      'counter.add',
      { n: 7 },
      { 'Idempotency-Key': 'across' },
      a.session.sessionId,
    );
    expect(onB).toEqual(first);
    expect((onB.data as { at: Date }).at).toBeInstanceOf(Date);
    expect(a.runs.add + b.runs.add).toBe(1);
    const reused = await b.mutate(
      'counter.add',
      { n: 8 },
      { 'Idempotency-Key': 'across' },
      a.session.sessionId,
    );
    expect(reused.status).toBe(422);
  });
});
