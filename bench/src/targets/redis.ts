// P7: what one HTTP request costs in Redis with RedisStore, against
// express-session + connect-redis on the same Redis.
//
// sessionMiddleware tracks each request that carries a session for its whole
// life: on arrival `manager.beginRequestSync(id)` (undefined for RedisStore,
// which has no synchronous form), then `manager.beginRequest(id)` (the
// store's addRequest: one script reads, checks, touches and pins the
// session), and when the response closes `request.end()` (removeRequest: one
// script unpins and touches it). express-session with a handler that changes
// the session costs a `get` on arrival and a `set` before the response goes
// out (connect-redis: GET, then SET … EX). One operation here is one such
// request's store calls, awaited in order, through public APIs only
// (SessionManager, connect-redis), so the figure follows RedisStore's key
// layout wherever it goes. Both run on the same redis-server, with the same
// number of sessions and of operations in flight, in rounds whose order
// alternates; the median round of each is compared (best round in the
// detail). Rows also give the CPU per request of this process and of
// redis-server, and the commands Redis ran per request (counted by Redis,
// those inside scripts included). P7 runs 8 requests in flight, where round
// trips decide; P7-64 repeats it with 64, where the clients pipeline and CPU
// (Lua in Redis, parsing in Node) decides.
//
// P7-mem: bytes inside Redis per idle session, 10,000 sessions of each
// store: `MEMORY USAGE` of every key the store wrote (found by SCAN under its
// prefix, whatever the layout: session hashes, index entries, user sets) and
// the `used_memory` delta of the server over the same sessions. RedisStore
// sessions carry a userId like the connect-redis ones (and once more without).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { type CreateSessionInput, SessionManager } from '@morgan/session-server';
import { RedisStore } from '@morgan/session-server/redis';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import { createClient } from 'redis';
import { COUNT_WITHOUT_LIMIT } from '../rate-limits.js';
import { type SessionMemory, sessionMemory } from '../redis/memory.js';
import {
  commandsPerOp,
  measureRound,
  median,
  othersCores,
  type RedisCommand,
  throughput,
  type Variant,
  variant,
} from '../redis/rounds.js';
import { writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';

const SESSIONS = 1_000;
const OPERATIONS = 4_000;
const ROUNDS = 15;
/** Requests in flight: the P7 rows, then the pipelined P7-64 rows. */
const IN_FLIGHT = [8, 64] as const;
const MEMORY_SESSIONS = 10_000;
const TIMEOUT_MS = 60 * 60 * 1000;
const METADATA = { plan: 'pro', locale: 'en-GB', tags: ['alpha', 'beta'] };

type ExpressSession = SessionData & { userId: string; views?: number };

/** The session express-session would hand connect-redis for user `i` (cookie + the same data). */
function expressSession(i: number): ExpressSession {
  return {
    cookie: {
      originalMaxAge: TIMEOUT_MS,
      expires: new Date(Date.now() + TIMEOUT_MS),
      httpOnly: true,
      path: '/',
    },
    userId: `user-${i}`,
    ...METADATA,
  } as unknown as ExpressSession;
}

function morganManager(redis: RedisTestServer, keyPrefix: string): SessionManager {
  const store = new RedisStore({ url: redis.url, keyPrefix });
  return new SessionManager({
    store,
    sessionTimeoutMs: TIMEOUT_MS,
    createRateLimit: false,
    requestRateLimit: COUNT_WITHOUT_LIMIT,
  });
}

/** The commit this run measured, `+dirty` when tracked files (results aside) had changes. */
function commit(): string {
  const git = (args: string[]) => spawnSync('git', args, { encoding: 'utf8' }).stdout.trim();
  const changed = git([
    'status',
    '--porcelain',
    '--untracked-files=no',
    '--',
    ':(top)',
    ':(top,exclude)bench/results',
  ]);
  const dirty = changed !== '';
  return `${git(['rev-parse', 'HEAD'])}${dirty ? '+dirty' : ''}`;
}

const others = (v: Variant) => othersCores(v).toFixed(2);
const bytes = (n: number) => `${Math.round(n)} B`;
const fmt = (opsPerSecond: number) => `${Math.round(opsPerSecond).toLocaleString('en-US')} req/s`;
const cpu = (v: Variant) =>
  `CPU ${(v.nodeCpuUs / v.ops).toFixed(1)} µs Node / ${(v.redisCpuUs / v.ops).toFixed(1)} µs Redis`;
const commands = (v: Variant) =>
  Object.entries(commandsPerOp(v))
    .map(([name, perOp]) => `${name} ${perOp}`)
    .join(', ');
const byType = (memory: SessionMemory) =>
  Object.entries(memory.keys.byType)
    .map(([type, t]) => `${type}: ${t.keys} keys, ${bytes(t.bytes / MEMORY_SESSIONS)}`)
    .join('; ');

async function run(): Promise<BenchResult[]> {
  await using redis = await startRedis({ namespace: 'morgan-bench' });
  const prefix = `${redis.keyPrefix}p7:`;
  const client = createClient({ url: redis.url });
  await client.connect();
  const send: RedisCommand = (args) => client.sendCommand(args);
  const where = redis.owned ? 'a private redis-server' : 'the REDIS_URL server';
  const version = /^redis_version:(\S+)/m.exec(String(await send(['INFO', 'server'])))?.[1];

  try {
    // Memory first, on a server holding nothing else of ours yet.
    const warm = morganManager(redis, `${prefix}warm:`);
    await warm.deleteSession((await warm.createSession({ userId: 'warm' })).sessionId);
    await warm.stop(); // the scripts are now loaded: their cache is not a session's cost
    /** Memory of MEMORY_SESSIONS RedisStore sessions made by `manager.createSession(input(i))`. */
    const morganMemoryOf = async (name: string, input: (i: number) => CreateSessionInput) => {
      const keyPrefix = `${prefix}${name}:`;
      const filled = morganManager(redis, keyPrefix);
      const memory = await sessionMemory(send, MEMORY_SESSIONS, keyPrefix, (i) =>
        filled.createSession(input(i)),
      );
      await filled.stop();
      if (redis.owned) await send(['FLUSHALL']);
      return memory;
    };
    const morganMemory = await morganMemoryOf('mem-morgan', (i) => ({
      userId: `user-${i}`,
      metadata: METADATA,
    }));
    const anonMemory = await morganMemoryOf('mem-anon', () => ({ metadata: METADATA }));
    const memConnect = new ConnectRedisStore({
      client,
      prefix: `${prefix}mem-sess:`,
      ttl: TIMEOUT_MS / 1000,
    });
    const connectMemory = await sessionMemory(send, MEMORY_SESSIONS, `${prefix}mem-sess:`, (i) =>
      memConnect.set(randomUUID(), expressSession(i)),
    );
    if (redis.owned) await send(['FLUSHALL']);

    const manager = morganManager(redis, `${prefix}morgan:`).start();
    const connect = new ConnectRedisStore({
      client,
      prefix: `${prefix}sess:`,
      ttl: TIMEOUT_MS / 1000,
    });
    const ids: string[] = [];
    const sids: string[] = [];
    for (let i = 0; i < SESSIONS; i += 1) {
      const session = await manager.createSession({ userId: `user-${i}`, metadata: METADATA });
      ids.push(session.sessionId);
      const sid = randomUUID();
      await connect.set(sid, expressSession(i));
      sids.push(sid);
    }

    // What sessionMiddleware does for a request with a session, on RedisStore.
    const morganRequest = async (i: number) => {
      const id = ids[i % SESSIONS] as string;
      const request = manager.beginRequestSync(id) ?? (await manager.beginRequest(id));
      await request.end();
    };
    // What express-session does for a request whose handler changes the session.
    const connectRequest = async (i: number) => {
      const sid = sids[i % SESSIONS] as string;
      const session = (await connect.get(sid)) as ExpressSession | null | undefined;
      if (session === null || session === undefined)
        throw new Error('connect-redis lost a session');
      session.views = (session.views ?? 0) + 1;
      await connect.set(sid, session);
    };

    const rows: BenchResult[] = [];
    const figures: Record<string, unknown> = {};
    for (const inFlight of IN_FLIGHT) {
      const morganV = variant('RedisStore beginRequest + end', morganRequest);
      const connectV = variant('connect-redis get + set', connectRequest);
      // Warm up connections, script cache and JIT, then alternate the order each round.
      for (const v of [connectV, morganV]) await throughput(OPERATIONS, inFlight, v.operation);
      for (let round = 0; round < ROUNDS; round += 1) {
        const order = round % 2 === 0 ? [connectV, morganV] : [morganV, connectV];
        for (const v of order) await measureRound(v, send, OPERATIONS, inFlight);
      }
      const morganMedian = median(morganV.rounds);
      const connectMedian = median(connectV.rounds);
      const ratio = morganMedian / connectMedian;
      const bestRatio = Math.max(...morganV.rounds) / Math.max(...connectV.rounds);
      const id = inFlight === IN_FLIGHT[0] ? 'P7' : `P7-${inFlight}`;
      figures[id] = {
        inFlight,
        ratioOfMedians: ratio,
        ratioOfBest: bestRatio,
        variants: [morganV, connectV].map((v) => ({
          name: v.name,
          roundsPerSecond: v.rounds.map(Math.round),
          median: median(v.rounds),
          best: Math.max(...v.rounds),
          nodeCpuUsPerOp: v.nodeCpuUs / v.ops,
          redisCpuUsPerOp: v.redisCpuUs / v.ops,
          othersCores: othersCores(v),
          commandsPerOp: commandsPerOp(v),
        })),
      };
      rows.push({
        id,
        what: `RedisStore per request vs connect-redis get+set, ${inFlight} in flight`,
        measured: `${ratio.toFixed(2)}x (${fmt(morganMedian)})`,
        target: inFlight === IN_FLIGHT[0] ? '>= 1.5x' : '- (transparency: pipelined)',
        ...(inFlight === IN_FLIGHT[0] ? { met: ratio >= 1.5 } : {}),
        detail:
          `Median of ${ROUNDS} alternating rounds of ${OPERATIONS} requests each; ` +
          `best rounds ${bestRatio.toFixed(2)}x. RedisStore, what sessionMiddleware does ` +
          `(beginRequest = addRequest script, end = removeRequest script; 2 round trips): ` +
          `${fmt(morganMedian)}, ${cpu(morganV)}, Redis ran per request: ${commands(morganV)}. ` +
          `connect-redis, what express-session does when the handler changes the session ` +
          `(get = GET, set = SET EX; 2 round trips): ${fmt(connectMedian)}, ${cpu(connectV)}, ` +
          `Redis ran per request: ${commands(connectV)}. ${SESSIONS} sessions each, ` +
          `${where} (Redis ${version}); ioredis for RedisStore, node-redis for connect-redis. ` +
          `Other processes on this ${cpus().length}-core machine used ${others(morganV)} of a ` +
          `core during the RedisStore rounds, ${others(connectV)} during the connect-redis ones.`,
      });
    }

    const memRatio = morganMemory.bytesPerSession / connectMemory.bytesPerSession;
    figures['P7-mem'] = {
      sessions: MEMORY_SESSIONS,
      morgan: morganMemory,
      morganAnonymous: anonMemory,
      connect: connectMemory,
    };
    rows.push({
      id: 'P7-mem',
      what: `Redis memory per idle session, ${MEMORY_SESSIONS.toLocaleString('en-US')} sessions`,
      measured: `${bytes(morganMemory.bytesPerSession)} vs ${bytes(connectMemory.bytesPerSession)} (${memRatio.toFixed(2)}x)`,
      target: '- (transparency)',
      detail:
        `MEMORY USAGE (SAMPLES 0) of every key each store wrote, per session. RedisStore ` +
        `(session hash and its index entries, sessions with a userId and metadata): ` +
        `${byType(morganMemory)}; used_memory +${bytes(morganMemory.usedMemoryPerSession)} ` +
        `per session; without a userId ${bytes(anonMemory.bytesPerSession)} ` +
        `(${byType(anonMemory)}; used_memory +${bytes(anonMemory.usedMemoryPerSession)}). ` +
        `connect-redis (one JSON string per session, with its cookie and userId): ` +
        `${byType(connectMemory)}; used_memory +${bytes(connectMemory.usedMemoryPerSession)} ` +
        `per session. ${where} (Redis ${version})` +
        `${redis.owned ? ', flushed between stores' : ', shared: used_memory includes other writers'}; ` +
        `raw figures in bench/results/P7.json`,
    });
    writeResults('P7', { commit: commit(), redis: { version, owned: redis.owned }, figures });
    await manager.stop();
    return rows;
  } finally {
    await client.quit();
  }
}

const target: BenchTarget = { ids: ['P7'], run };
export default target;
