// P7: RedisStore get+touch throughput against connect-redis on the same Redis.
//
// Serving a request needs the session (read) and must keep it alive (touch).
// express-session does that with two store calls, `get` then `touch`, which
// connect-redis turns into GET + EXPIRE: two round trips. RedisStore's
// `touch(id, now)` checks, extends and returns the session in one script:
// one round trip. Both run here against the same redis-server, with the same
// number of sessions, operations and operations in flight, interleaved over
// several rounds; the best round of each is compared. RedisStore doing `get`
// then `touch` (two round trips, like express-session) is reported as detail.
// P7 runs with a few operations in flight, where round trips decide; the
// P7-64 row repeats it with 64 in flight, where the client pipelines and CPU
// (Lua in Redis, parsing in Node) decides.
import { randomUUID } from 'node:crypto';
import { RedisStore } from '@morgan/session-server/redis';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import { createClient } from 'redis';
import { startRedis } from '../../../packages/server/src/testing/redis-server.js';
import type { BenchResult, BenchTarget } from '../target.js';

const SESSIONS = 1_000;
const OPERATIONS = 4_000;
const ROUNDS = 15;
/** Operations in flight: the P7 row, then the pipelined P7-64 row. */
const IN_FLIGHT = [8, 64] as const;
const TIMEOUT_MS = 60 * 60 * 1000;
const METADATA = { plan: 'pro', locale: 'en-GB', tags: ['alpha', 'beta'] };

/** Runs `operation(i)` `OPERATIONS` times with at most `inFlight` pending; returns ops/s. */
async function throughput(
  inFlight: number,
  operation: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < OPERATIONS) {
      const i = next;
      next += 1;
      await operation(i);
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return OPERATIONS / seconds;
}

async function run(): Promise<BenchResult[]> {
  await using redis = await startRedis();
  const prefix = `${redis.keyPrefix}p7:`;

  const morgan = new RedisStore({ url: redis.url, keyPrefix: `${prefix}morgan:` });
  morgan.configure({ sessionTimeoutMs: TIMEOUT_MS });
  const client = createClient({ url: redis.url });
  await client.connect();
  const connect = new ConnectRedisStore({
    client,
    prefix: `${prefix}sess:`,
    ttl: TIMEOUT_MS / 1000,
  });

  try {
    const now = Date.now();
    const morganIds: string[] = [];
    const sids: string[] = [];
    for (let i = 0; i < SESSIONS; i += 1) {
      const sessionId = randomUUID();
      morganIds.push(sessionId);
      await morgan.create({
        sessionId,
        userId: `user-${i}`,
        conversationId: undefined,
        createdAt: now,
        lastActivity: now,
        metadata: JSON.stringify(METADATA),
        connectionCount: 0,
        activeRequests: [],
      });
      const sid = randomUUID();
      sids.push(sid);
      const data = {
        cookie: {
          originalMaxAge: TIMEOUT_MS,
          expires: new Date(now + TIMEOUT_MS),
          httpOnly: true,
          path: '/',
        },
        userId: `user-${i}`,
        ...METADATA,
      } as unknown as SessionData;
      await connect.set(sid, data);
    }

    const morganTouch = (i: number) =>
      morgan.touch(morganIds[i % SESSIONS] as string, Date.now()).then((record) => {
        if (record === undefined) throw new Error('RedisStore lost a session');
      });
    const morganGetThenTouch = async (i: number) => {
      const id = morganIds[i % SESSIONS] as string;
      if ((await morgan.get(id, Date.now())) === undefined)
        throw new Error('RedisStore lost a session');
      await morgan.touch(id, Date.now());
    };
    const connectGetThenTouch = async (i: number) => {
      const sid = sids[i % SESSIONS] as string;
      const session = (await connect.get(sid)) as SessionData | null;
      if (session === null || session === undefined)
        throw new Error('connect-redis lost a session');
      await connect.touch(sid, session);
    };

    const fmt = (opsPerSecond: number) =>
      `${Math.round(opsPerSecond).toLocaleString('en-US')} ops/s`;
    const rows: BenchResult[] = [];
    for (const inFlight of IN_FLIGHT) {
      // Warm up connections, script cache and JIT.
      for (const operation of [morganTouch, morganGetThenTouch, connectGetThenTouch]) {
        await throughput(inFlight, operation);
      }
      const best = { morgan: 0, morganTwoCalls: 0, connect: 0 };
      for (let round = 0; round < ROUNDS; round += 1) {
        best.connect = Math.max(best.connect, await throughput(inFlight, connectGetThenTouch));
        best.morgan = Math.max(best.morgan, await throughput(inFlight, morganTouch));
        best.morganTwoCalls = Math.max(
          best.morganTwoCalls,
          await throughput(inFlight, morganGetThenTouch),
        );
      }
      const ratio = best.morgan / best.connect;
      rows.push({
        id: inFlight === IN_FLIGHT[0] ? 'P7' : `P7-${inFlight}`,
        what: `RedisStore get+touch vs connect-redis get+touch, ${inFlight} in flight`,
        measured: `${ratio.toFixed(2)}x (${fmt(best.morgan)})`,
        target: '>= 1.5x (one round trip per operation)',
        met: ratio >= 1.5,
        detail:
          `RedisStore touch (reads + extends, 1 round trip) ${fmt(best.morgan)}; ` +
          `connect-redis get+touch (GET + EXPIRE, 2 round trips) ${fmt(best.connect)}; ` +
          `RedisStore get then touch (2 round trips) ${fmt(best.morganTwoCalls)} ` +
          `(${(best.morganTwoCalls / best.connect).toFixed(2)}x). ` +
          `${SESSIONS} sessions, ${OPERATIONS} ops x ${ROUNDS} rounds, best round, ` +
          `${redis.owned ? 'private redis-server' : 'REDIS_URL'}.`,
      });
    }
    return rows;
  } finally {
    await morgan.close();
    await client.quit();
  }
}

const target: BenchTarget = { ids: ['P7'], run };
export default target;
