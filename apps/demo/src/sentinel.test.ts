// Two demo nodes (`node dist/server.js`, real processes) configured with
// REDIS_SENTINELS / REDIS_SENTINEL_NAME, on a master, a replica and three
// sentinels (startRedisSentinel). The master is SIGKILLed while an SDK
// client is connected: the nodes answer 503 STORE_UNAVAILABLE (nothing else)
// until the sentinels promote the replica, then serve again without a
// restart, and the client is `connected` again with the same session id and
// its event stream delivers again.
import { fileURLToPath } from 'node:url';
import { createSessionClient, type SessionEvent, type WebSocketLike } from '@morgan/session-client';
import {
  type NodeProcess,
  type RedisTestSentinel,
  startNodeProcess,
  startRedisSentinel,
} from '@morgan/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { chat, get, trpcCall, until } from './testing/wire.js';

const TEST_TIMEOUT_MS = 120_000;
/** The built demo server; `npm test` builds it before the suites. */
const demoEntry = fileURLToPath(new URL('../dist/server.js', import.meta.url));

let sentinel: RedisTestSentinel;
let a: NodeProcess;
let b: NodeProcess;

beforeAll(async () => {
  sentinel = await startRedisSentinel();
  const env = { ...sentinel.env, MORGAN_CLEANUP_INTERVAL: '1' };
  [a, b] = await Promise.all([
    startNodeProcess({ entry: demoEntry, name: 'a', env }),
    startNodeProcess({ entry: demoEntry, name: 'b', env }),
  ]);
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all([a, b].map((node) => node?.stop('SIGKILL')));
  await sentinel?.stop();
}, TEST_TIMEOUT_MS);

/** The answer's error code, or its status when it has none. */
async function outcome(res: Response | undefined): Promise<string> {
  if (res === undefined) return 'no answer';
  if (res.status === 200) return '200';
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return `${res.status} ${body.error?.code ?? ''}`.trim();
}

describe('demo nodes through Redis Sentinel', () => {
  it(
    'survive a SIGKILLed master: 503 STORE_UNAVAILABLE meanwhile, then an SDK client is connected again with the same session',
    async () => {
      for (const node of [a, b]) {
        expect(await (await get(`${node.url}/health`)).json()).toMatchObject({ store: 'redis' });
      }
      const client = createSessionClient({
        url: a.url,
        storage: 'memory',
        WebSocket: WebSocket as unknown as WebSocketLike,
        reconnect: { baseDelayMs: 50, maxDelayMs: 500 },
        onlineEvents: false,
      });
      const admin = new Redis({
        sentinels: [...sentinel.sentinels],
        name: sentinel.masterName,
        maxRetriesPerRequest: 1,
      });
      admin.on('error', () => {});
      const replaced: unknown[] = [];
      client.on('session-replaced', (event) => replaced.push(event));
      const states: string[] = [];
      client.on('state', (state) => states.push(state.status));
      try {
        const { sessionId } = await client.connect();
        const events: SessionEvent[] = [];
        client.subscribeEvents((event) => events.push(event));
        expect((await chat(b.url, sessionId, 'before, on B')).status).toBe(200);
        await until(() => events.length === 1, 10_000, 'an event from B through Redis');
        // The session is on the replica before the master dies.
        await admin.set(`${sentinel.keyPrefix}fence`, '1');
        expect(await admin.wait(1, 10_000)).toBe(1);

        const old = await sentinel.killMaster('SIGKILL');
        const answers = new Set<string>();
        const promotion = sentinel.waitForFailover(old, 60_000);
        // Both nodes, until each serves the session again.
        await until(
          async () => {
            const results = await Promise.all(
              [a, b].map(async (node) =>
                outcome(await chat(node.url, sessionId, 'during').catch(() => undefined)),
              ),
            );
            for (const result of results) answers.add(result);
            return results.every((result) => result === '200');
          },
          60_000,
          'both nodes serving again',
        );
        await promotion;
        expect([...answers].filter((answer) => answer !== '200')).toContain(
          '503 STORE_UNAVAILABLE',
        );
        expect([...answers].filter((a) => a !== '200' && a !== '503 STORE_UNAVAILABLE')).toEqual(
          [],
        );

        await until(() => client.state === 'connected', 30_000, 'the client connected again');
        expect(client.sessionId).toBe(sessionId);
        expect(replaced).toEqual([]);
        expect(states).not.toContain('closed');
        if (process.env.MORGAN_TIMELINE === '1') {
          process.stderr.write(`client states: ${states.join(' → ')}; answers: ${[...answers]}\n`);
        }
        const seen = events.length;
        expect((await chat(b.url, sessionId, 'after, on B')).status).toBe(200);
        await until(
          () => events.slice(seen).some((event) => JSON.stringify(event.data).includes('after')),
          20_000,
          'a live event after the failover',
        );
        const onA = await trpcCall(a.url, 'session.get', { type: 'query', sessionId });
        expect(onA.data).toMatchObject({ sessionId });
      } finally {
        admin.disconnect();
        await client.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
