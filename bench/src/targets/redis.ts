// P7: RedisStore get+touch throughput against connect-redis on the same Redis.
//
// Serving a request needs the session (read) and must keep it alive (touch).
// express-session does that with two store calls, `get` then `touch`, which
// connect-redis turns into GET + EXPIRE: two round trips, every request.
// RedisStore's `touch(id, now)` reads and returns the session in one round
// trip: the touch script (read, check, extend) when this node last wrote the
// session's lastActivity `touchResolutionMs` (1 s by default) ago or more,
// otherwise a plain HMGET (touch coalescing: lastActivity in Redis may lag by
// up to 1 s). Here each session is touched several times a second, so most
// touches coalesce; the share is counted from Redis's own command stats and
// reported. The P7-r0 rows repeat the run with `touchResolutionMs: 0`, where
// every touch runs the script. RedisStore doing `get` then `touch` (two round
// trips, like express-session) is reported as detail.
// All run against the same redis-server, with the same number of sessions,
// operations and operations in flight, interleaved over several rounds; the
// best round of each is compared. P7 runs with a few operations in flight,
// where round trips decide; the P7-64 rows repeat it with 64 in flight, where
// the client pipelines and CPU (Lua in Redis, parsing in Node) decides.
// Throughput on a shared machine is noisy, so each row also gives the CPU
// time per operation of this process and of redis-server, over all rounds.
import { randomUUID } from 'node:crypto';
import { RedisStore } from '@morgan/session-server/redis';
import { startRedis } from '@morgan/test-support';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import { createClient } from 'redis';
import type { BenchResult, BenchTarget } from '../target.js';

const SESSIONS = 1_000;
const OPERATIONS = 4_000;
const ROUNDS = 15;
/** Operations in flight: the P7 rows, then the pipelined P7-64 rows. */
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

/** Sessions as both stores hold them, created `at`. */
function sessionData(i: number, at: number) {
  const record = {
    userId: `user-${i}`,
    conversationId: undefined,
    createdAt: at,
    lastActivity: at,
    metadata: JSON.stringify(METADATA),
    connectionCount: 0,
    activeRequests: [],
  };
  const express = {
    cookie: {
      originalMaxAge: TIMEOUT_MS,
      expires: new Date(at + TIMEOUT_MS),
      httpOnly: true,
      path: '/',
    },
    userId: `user-${i}`,
    ...METADATA,
  } as unknown as SessionData;
  return { record, express };
}

/** One operation under test and its figures over the rounds. */
interface Variant {
  operation: (i: number) => Promise<unknown>;
  /** Best round, ops/s. */
  best: number;
  ops: number;
  nodeCpuUs: number;
  redisCpuUs: number;
  /** EVALSHA calls Redis counted while it ran. */
  scripts: number;
}

const variant = (operation: Variant['operation']): Variant => ({
  operation,
  best: 0,
  ops: 0,
  nodeCpuUs: 0,
  redisCpuUs: 0,
  scripts: 0,
});

const cpu = (v: Variant) =>
  `${(v.nodeCpuUs / v.ops).toFixed(1)} / ${(v.redisCpuUs / v.ops).toFixed(1)} µs`;

const fmt = (opsPerSecond: number) => `${Math.round(opsPerSecond).toLocaleString('en-US')} ops/s`;

async function run(): Promise<BenchResult[]> {
  await using redis = await startRedis();
  const prefix = `${redis.keyPrefix}p7:`;

  // Touch coalescing at its default (1 s), and off: every touch runs the script.
  const morgan = new RedisStore({ url: redis.url, keyPrefix: `${prefix}morgan:` });
  const morganR0 = new RedisStore({
    url: redis.url,
    keyPrefix: `${prefix}morgan-r0:`,
    touchResolutionMs: 0,
  });
  for (const store of [morgan, morganR0]) store.configure({ sessionTimeoutMs: TIMEOUT_MS });
  const client = createClient({ url: redis.url });
  await client.connect();
  const connect = new ConnectRedisStore({
    client,
    prefix: `${prefix}sess:`,
    ttl: TIMEOUT_MS / 1000,
  });
  /** Redis's CPU time (user + sys, µs) and scripts run (EVALSHA calls) so far. */
  const redisStats = async () => {
    const info = String(await client.sendCommand(['INFO', 'cpu', 'commandstats']));
    const field = (name: string) => Number(new RegExp(`${name}([\\d.]+)`).exec(info)?.[1] ?? 0);
    return {
      cpuUs: (field('used_cpu_user:') + field('used_cpu_sys:')) * 1e6,
      scripts: field('cmdstat_evalsha:calls='),
    };
  };
  /** Runs one round of `variant` and adds its figures. */
  const measure = async (variant: Variant, inFlight: number) => {
    const redisBefore = await redisStats();
    const nodeBefore = process.cpuUsage();
    variant.best = Math.max(variant.best, await throughput(inFlight, variant.operation));
    const node = process.cpuUsage(nodeBefore);
    const redisAfter = await redisStats();
    variant.ops += OPERATIONS;
    variant.nodeCpuUs += node.user + node.system;
    variant.redisCpuUs += redisAfter.cpuUs - redisBefore.cpuUs;
    variant.scripts += redisAfter.scripts - redisBefore.scripts;
  };

  try {
    const now = Date.now();
    const ids: string[] = [];
    const sids: string[] = [];
    for (let i = 0; i < SESSIONS; i += 1) {
      const { record, express } = sessionData(i, now);
      const sessionId = randomUUID();
      ids.push(sessionId);
      await morgan.create({ sessionId, ...record });
      await morganR0.create({ sessionId, ...record });
      const sid = randomUUID();
      sids.push(sid);
      await connect.set(sid, express);
    }

    const touchOf = (store: RedisStore) => (i: number) =>
      store.touch(ids[i % SESSIONS] as string, Date.now()).then((record) => {
        if (record === undefined) throw new Error('RedisStore lost a session');
      });
    const morganTouch = touchOf(morgan);
    const morganR0Touch = touchOf(morganR0);
    const morganGetThenTouch = async (i: number) => {
      const id = ids[i % SESSIONS] as string;
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

    const rows: BenchResult[] = [];
    for (const inFlight of IN_FLIGHT) {
      const morganV = variant(morganTouch);
      const r0 = variant(morganR0Touch);
      const twoCalls = variant(morganGetThenTouch);
      const connectV = variant(connectGetThenTouch);
      const all = [connectV, morganV, r0, twoCalls];
      // Warm up connections, script cache and JIT.
      for (const { operation } of all) await throughput(inFlight, operation);
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const v of all) await measure(v, inFlight);
      }
      const coalesced = 1 - morganV.scripts / morganV.ops;
      const ratio = morganV.best / connectV.best;
      const ratioR0 = r0.best / connectV.best;
      const id = inFlight === IN_FLIGHT[0] ? 'P7' : `P7-${inFlight}`;
      const setup =
        `CPU per operation, mean of all rounds, as Node µs / Redis µs. ` +
        `${SESSIONS} sessions, ${OPERATIONS} ops x ${ROUNDS} rounds, best round, ` +
        `${redis.owned ? 'private redis-server' : 'REDIS_URL'}.`;
      const connectText =
        `connect-redis get+touch (GET + EXPIRE, 2 round trips) ${fmt(connectV.best)}, ` +
        cpu(connectV);
      rows.push({
        id,
        what: `RedisStore get+touch vs connect-redis get+touch, ${inFlight} in flight`,
        measured: `${ratio.toFixed(2)}x (${fmt(morganV.best)})`,
        target: '>= 1.5x (one round trip per operation)',
        met: ratio >= 1.5,
        detail:
          `RedisStore touch, 1 round trip, coalescing at the default 1 s: ` +
          `${(coalesced * 100).toFixed(1)}% of touches were a plain HMGET, the rest ran the ` +
          `touch script (each session is touched ~${Math.round(morganV.best / SESSIONS)} times/s ` +
          `here), ${fmt(morganV.best)}, ${cpu(morganV)}; ${connectText}; ` +
          `RedisStore get then touch (2 round trips) ${fmt(twoCalls.best)} ` +
          `(${(twoCalls.best / connectV.best).toFixed(2)}x), ${cpu(twoCalls)}. ${setup}`,
      });
      rows.push({
        id: `${id}-r0`,
        what: 'same, touchResolutionMs: 0 (every touch runs the script)',
        measured: `${ratioR0.toFixed(2)}x (${fmt(r0.best)})`,
        target: '- (transparency: no coalescing)',
        detail:
          `RedisStore touch script on every call (read, check, HSET + ZADD + PEXPIRE), ` +
          `1 round trip, ${fmt(r0.best)}, ${cpu(r0)}; ${connectText}. ${setup}`,
      });
    }
    return rows;
  } finally {
    await morgan.close();
    await morganR0.close();
    await client.quit();
  }
}

const target: BenchTarget = { ids: ['P7'], run };
export default target;
