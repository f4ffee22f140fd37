// Several demo nodes on one Redis, and again on a Redis Cluster
// (REDIS_CLUSTER_NODES), as real processes (`node dist/server.js`): sessions
// and event buffers are shared, any node serves any session (no sticky
// sessions), a node's death or shutdown loses nothing, and (one Redis) an
// outage answers 503 STORE_UNAVAILABLE until Redis is back, without a restart.
import { fileURLToPath } from 'node:url';
import { createSessionClient, type SessionEvent, type WebSocketLike } from '@morgan/session-client';
import { idempotencyKeys } from '@morgan/session-client/idempotency';
import { sseTransport } from '@morgan/session-client/sse';
import { type NodeProcess, startNodeProcess, startRedisCluster } from '@morgan/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startBalancer } from './testing/balancer.js';
import { type RedisSwitch, startRedisSwitch } from './testing/redis-switch.js';
import { chat, dataOf, get, openSocket, trpcCall, until } from './testing/wire.js';

const TEST_TIMEOUT_MS = 60_000;
/** The admin token all three nodes share (MORGAN_ADMIN_TOKEN). */
const ADMIN_TOKEN = 'multi-node-test-admin-token';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** The built demo server; `npm test` builds it before the suites. */
const demoEntry = fileURLToPath(new URL('../dist/server.js', import.meta.url));

/** What the nodes share: one Redis (behind a gate that can cut it) or a Redis Cluster. */
interface Backend {
  /** Environment of each node (REDIS_URL or REDIS_CLUSTER_NODES, and the key prefix). */
  env: Record<string, string>;
  close(): Promise<void>;
}

const backends = [
  {
    name: 'one Redis',
    async start(): Promise<Backend & { outage: RedisSwitch }> {
      const redis = await startRedisSwitch();
      return {
        env: { REDIS_URL: redis.url, MORGAN_REDIS_PREFIX: redis.keyPrefix },
        outage: redis,
        close: () => redis.close(),
      };
    },
  },
  {
    name: 'Redis Cluster',
    async start(): Promise<Backend> {
      const cluster = await startRedisCluster();
      return { env: { ...cluster.env }, close: () => cluster.stop() };
    },
  },
] as const;

async function createSession(node: NodeProcess, input?: unknown): Promise<string> {
  const created = await trpcCall(node.url, 'session.create', { type: 'mutation', input });
  expect(created.status).toBe(200);
  return (created.data as { sessionId: string }).sessionId;
}

describe.each(backends)('demo nodes on $name', ({ name, start }) => {
  let backend: Backend;
  let a: NodeProcess;
  let b: NodeProcess;
  let c: NodeProcess;

  beforeAll(async () => {
    backend = await start();
    const env = {
      ...backend.env,
      MORGAN_CLEANUP_INTERVAL: '1',
      MORGAN_ADMIN_TOKEN: ADMIN_TOKEN,
    };
    [a, b, c] = await Promise.all([
      startNodeProcess({ entry: demoEntry, name: 'a', env }),
      startNodeProcess({ entry: demoEntry, name: 'b', env }),
      startNodeProcess({ entry: demoEntry, name: 'c', env }),
    ]);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([a, b, c].map((node) => node?.stop('SIGKILL')));
    await backend?.close();
  }, TEST_TIMEOUT_MS);

  it(
    'report the shared store, and a session created on A is used on B over HTTP and tRPC',
    async () => {
      for (const node of [a, b]) {
        const health = await (await get(`${node.url}/health`)).json();
        expect(health).toMatchObject({ status: 'ok', store: 'redis' });
        expect((await get(`${node.url}/ready`)).status).toBe(200);
      }
      const sessionId = await createSession(a, { userId: 'ada', metadata: { plan: 'pro' } });

      const onB = await trpcCall(b.url, 'session.get', { type: 'query', sessionId });
      expect(onB.status).toBe(200);
      expect(onB.data).toMatchObject({ sessionId, userId: 'ada', metadata: { plan: 'pro' } });
      const beat = await trpcCall(b.url, 'session.heartbeat', { type: 'mutation', sessionId });
      expect(beat.status).toBe(200);
      const reply = await chat(b.url, sessionId, 'hello from b');
      expect(reply.status).toBe(200);
      expect(await reply.json()).toMatchObject({ sessionId, messageCount: 1 });
      // The count follows the session, whichever node answers.
      const again = await chat(a.url, sessionId, 'hello from a');
      expect(await again.json()).toMatchObject({ sessionId, messageCount: 2 });

      const deleted = await trpcCall(b.url, 'session.delete', { type: 'mutation', sessionId });
      expect(deleted.data).toEqual({ deleted: true });
      const gone = await trpcCall(a.url, 'session.get', { type: 'query', sessionId });
      expect(gone).toMatchObject({ status: 404, errorCode: 'SESSION_NOT_FOUND' });
      expect((await chat(a.url, sessionId, 'still there?')).status).toBe(404);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a delete on A closes B's WebSockets of the session with 4404",
    async () => {
      const sessionId = await createSession(a);
      const other = await createSession(a);
      const onB = await openSocket(b.wsUrl, sessionId);
      const otherOnB = await openSocket(b.wsUrl, other);
      onB.send(1, 'query', 'session.get');
      await until(() => dataOf(onB, 1).length === 1, 10_000, 'session.get over the socket');
      const counted = await trpcCall(a.url, 'session.get', { type: 'query', sessionId });
      expect(counted.data).toMatchObject({ connectionCount: 1 });

      const deleted = await trpcCall(a.url, 'session.delete', { type: 'mutation', sessionId });
      expect(deleted.data).toEqual({ deleted: true });
      expect(await onB.closed()).toBe(4404);
      otherOnB.send(2, 'query', 'session.get');
      await until(() => dataOf(otherOnB, 2).length === 1, 10_000, 'the other session answers');
      expect(otherOnB.closeCode()).toBeUndefined();
      otherOnB.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'kill -9 of A while a client is connected: the client goes on on B with the same session, and its event stream misses nothing',
    async () => {
      await using balancer = await startBalancer(a.port);
      const client = createSessionClient({
        url: balancer.url,
        storage: 'memory',
        WebSocket: WebSocket as unknown as WebSocketLike,
        reconnect: { baseDelayMs: 50, maxDelayMs: 250 },
        onlineEvents: false,
        transport: sseTransport(),
        idempotencyKeys: idempotencyKeys(),
      });
      const replaced: unknown[] = [];
      client.on('session-replaced', (event) => replaced.push(event));
      try {
        const { sessionId } = await client.connect();
        const events: SessionEvent[] = [];
        client.subscribeEvents((event) => events.push(event));
        const replies: string[] = [];
        const send = async (node: NodeProcess, message: string) => {
          const res = await chat(node.url, sessionId, message);
          expect(res.status).toBe(200);
          replies.push(((await res.json()) as { reply: string }).reply);
        };

        await send(a, 'one, on A');
        await until(() => events.length === 1, 10_000, 'the first event');
        await send(b, 'two, on B, heard on A');
        await until(() => events.length === 2, 10_000, 'an event from B through Redis');

        await send(b, 'three, just before the kill');
        await a.stop('SIGKILL');
        expect(a.exit?.signal).toBe('SIGKILL');
        balancer.retarget(b.port);
        await send(b, 'four, while the client reconnects');
        await send(b, 'five, while the client reconnects');
        await until(() => events.length >= 5, 20_000, 'the replay on B');
        await send(b, 'six, live on B');
        await until(() => events.length >= 6, 10_000, 'a live event on B');

        expect(events.map((event) => event.type)).toEqual(Array(6).fill('chat.reply'));
        expect(events.map((event) => (event.data as { reply: string }).reply)).toEqual(replies);
        const ids = events.map((event) => event.id);
        expect(new Set(ids).size).toBe(6);
        expect(client.sessionId).toBe(sessionId);
        expect(replaced).toEqual([]);
        const onB = await trpcCall(b.url, 'session.get', { type: 'query', sessionId });
        expect(onB.data).toMatchObject({ sessionId });
      } finally {
        await client.close();
        await a.start();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a rotation on A moves an SDK client on B to the new id, with no event lost or repeated and no reconnect; log out everywhere on B closes it 4404',
    async () => {
      const client = createSessionClient({
        url: b.url,
        storage: 'memory',
        WebSocket: WebSocket as unknown as WebSocketLike,
        userId: 'rota',
        onlineEvents: false,
        transport: sseTransport(),
        idempotencyKeys: idempotencyKeys(),
      });
      const rotated: { previousSessionId: string; sessionId: string }[] = [];
      const replaced: unknown[] = [];
      const states: string[] = [];
      client.on('session-rotated', (event) => rotated.push(event));
      client.on('session-replaced', (event) => replaced.push(event));
      client.on('state', (state) => states.push(state.status));
      try {
        const { sessionId: before } = await client.connect();
        const events: SessionEvent[] = [];
        client.subscribeEvents((event) => events.push(event));
        const replies: string[] = [];
        const send = async (node: NodeProcess, id: string, message: string) => {
          const res = await chat(node.url, id, message);
          expect(res.status).toBe(200);
          replies.push(((await res.json()) as { reply: string }).reply);
        };
        await send(a, before, 'one, before the rotation');
        await until(() => events.length === 1, 10_000, 'the first event');
        await send(a, before, 'two, just before the rotation');

        const res = await fetch(`${a.url}/api/admin/sessions/${before}/rotate`, {
          method: 'POST',
          headers: admin,
        });
        expect(res.status).toBe(200);
        // The answer names the new id shortened only; the client learns it from the server.
        const { shortId } = (await res.json()) as { shortId: string };
        await until(() => client.sessionId !== before, 10_000, 'the client to follow');
        const after = client.sessionId as string;
        expect(shortId).toBe(`${after.slice(0, 8)}…`);
        await send(a, after, 'three, after the rotation');
        await until(() => events.length === 3, 10_000, 'every event');

        expect(events.map((event) => (event.data as { reply: string }).reply)).toEqual(replies);
        expect(rotated).toEqual([{ previousSessionId: before, sessionId: after }]);
        expect(replaced).toEqual([]);
        expect(states.filter((state) => state === 'reconnecting')).toEqual([]);
        const onA = await trpcCall(a.url, 'session.get', { type: 'query', sessionId: after });
        expect(onA.data).toMatchObject({ sessionId: after, userId: 'rota', connectionCount: 1 });
        const old = await trpcCall(a.url, 'session.get', { type: 'query', sessionId: before });
        expect(old).toMatchObject({ status: 404, errorCode: 'SESSION_NOT_FOUND' });

        // Log out everywhere, on the other node: the client is told (4404) and starts anew.
        const out = await fetch(`${b.url}/api/admin/users/rota/sessions`, {
          method: 'DELETE',
          headers: admin,
        });
        expect(await out.json()).toEqual({ deleted: 1 });
        await until(() => replaced.length === 1, 10_000, 'the client to replace its session');
        expect(client.sessionId).not.toBe(after);
      } finally {
        await client.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'SIGTERM on C closes its sockets with 1001 and keeps the sessions in Redis for the others',
    async () => {
      const sessionId = await createSession(c, { conversationId: 'kept' });
      const onC = await openSocket(c.wsUrl, sessionId);
      onC.send(1, 'query', 'session.get');
      await until(() => dataOf(onC, 1).length === 1, 10_000, 'session.get over the socket');
      await c.stop('SIGTERM');
      expect(c.exit).toEqual({ code: 0, signal: null });
      expect(await onC.closed()).toBe(1001);

      const onB = await trpcCall(b.url, 'session.get', { type: 'query', sessionId });
      expect(onB.data).toMatchObject({ sessionId, conversationId: 'kept', connectionCount: 0 });
      expect((await chat(b.url, sessionId, 'after the shutdown')).status).toBe(200);
    },
    TEST_TIMEOUT_MS,
  );

  // The outage needs the gate in front of one Redis; on a cluster the same
  // recovery is shown with a master restarted (packages/server cluster-failover.test.ts).
  if (name === 'one Redis') {
    const outageOf = () => (backend as Backend & { outage: RedisSwitch }).outage;
    it(
      'Redis stopped: /ready 503 and session operations 503 STORE_UNAVAILABLE at once; Redis back: everything works again without a restart',
      async () => {
        const sessionId = await createSession(a);
        const outage = outageOf();
        await outage.down();
        try {
          await until(
            async () => (await get(`${b.url}/ready`)).status === 503,
            10_000,
            '/ready 503',
          );
          const ready = await get(`${a.url}/ready`);
          expect(ready.status).toBe(503);
          expect(await ready.json()).toMatchObject({
            status: 'store-unavailable',
            error: { code: 'STORE_UNAVAILABLE' },
          });
          const health = await (await get(`${b.url}/health`)).json();
          expect(health).toMatchObject({ status: 'degraded', store: 'redis' });

          const chatted = await chat(b.url, sessionId, 'during the outage');
          expect(chatted.status).toBe(503);
          expect(chatted.headers.get('retry-after')).toBe('1');
          expect(await chatted.json()).toEqual({
            error: { code: 'STORE_UNAVAILABLE', message: expect.any(String) },
          });
          const outage = { status: 503, errorCode: 'STORE_UNAVAILABLE', retryAfter: '1' };
          expect(await trpcCall(b.url, 'session.create', { type: 'mutation' })).toMatchObject(
            outage,
          );
          expect(await trpcCall(a.url, 'session.get', { type: 'query', sessionId })).toMatchObject(
            outage,
          );
          const refused = await openSocket(b.wsUrl, sessionId);
          expect(await refused.closed()).toBe(1011);
        } finally {
          await outage.up();
        }

        for (const node of [a, b]) {
          await until(
            async () => (await get(`${node.url}/ready`)).status === 200,
            15_000,
            `/ready 200 on ${node.name}`,
          );
        }
        // Acknowledged before the outage, still there; new sessions, sockets and events work.
        expect((await chat(b.url, sessionId, 'after the outage')).status).toBe(200);
        const fresh = await createSession(b);
        const listener = await openSocket(a.wsUrl, fresh);
        listener.send(1, 'subscription', 'session.events');
        // The first event may come from the replay buffer; the next one only live.
        await until(
          async () => {
            await chat(b.url, fresh, 'ping');
            return dataOf(listener, 1).length > 0;
          },
          15_000,
          'the subscription on A after the outage',
        );
        const heard = dataOf(listener, 1).length;
        expect((await chat(b.url, fresh, 'live')).status).toBe(200);
        await until(() => dataOf(listener, 1).length > heard, 10_000, 'a live event from B on A');
        listener.close();
      },
      TEST_TIMEOUT_MS,
    );
  }
});
