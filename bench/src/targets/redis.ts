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
//
// P7-cluster, P7-64-cluster and P7-mem-cluster measure the same on a real
// Redis Cluster (three masters, `startRedisCluster`): RedisStore with
// `clusterNodes` (an ioredis Cluster), connect-redis 9 through node-redis'
// `createCluster` (which it supports: its `client` may be a RedisClusterType,
// and get/set are single-key commands the cluster client routes). Each
// request's keys sit in one slot on both sides (RedisStore's session and its
// shard's indexes share a hash tag; connect-redis has one key), so both stay
// 2 round trips, to the master holding the slot. Redis's CPU and command
// counts are summed over the masters, and so is memory: every master is
// SCANned for the prefix and its keys' `MEMORY USAGE` added up.
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { type CreateSessionInput, SessionManager } from '@morgan/session-server';
import { RedisStore } from '@morgan/session-server/redis';
import { startRedis, startRedisCluster } from '@morgan/test-support';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import { createClient, createCluster } from 'redis';
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
import { gitCommit, writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';

const SESSIONS = 1_000;
const OPERATIONS = 4_000;
const ROUNDS = 15;
/** Alternating rounds of the cluster rows. */
const CLUSTER_ROUNDS = 15;
/** Requests in flight: the P7 rows, then the pipelined P7-64 rows. */
const IN_FLIGHT = [8, 64] as const;
const MEMORY_SESSIONS = 10_000;
/** Sessions created and deleted first, so that every master has loaded the scripts. */
const WARM_SESSIONS = 48;
const TIMEOUT_MS = 60 * 60 * 1000;
const METADATA = { plan: 'pro', locale: 'en-GB', tags: ['alpha', 'beta'] };

/** Where one set of P7 rows runs: one redis-server, or a Redis Cluster. */
interface Deployment {
  /** Appended to each row id: '' or '-cluster'. */
  readonly suffix: string;
  /** Appended to each row's `what`. */
  readonly label: string;
  /** Alternating rounds per in-flight setting. */
  readonly rounds: number;
  /** The redis-server, or each master: Redis's figures are summed over them. */
  readonly nodes: readonly RedisCommand[];
  /** This run's key prefix. */
  readonly prefix: string;
  /** Where it ran, with the Redis version, for the details. */
  readonly where: string;
  /** The clients used, for the details. */
  readonly clients: string;
  /** How Redis's CPU is labelled: 'Redis', or 'Redis (3 masters together)'. */
  readonly redisLabel: string;
  /** A RedisStore on these servers. */
  readonly store: (keyPrefix: string) => RedisStore;
  /** What connect-redis talks to: a node-redis client or cluster client. */
  readonly connectClient: unknown;
  /** Empties the servers between stores; undefined when they are shared, not ours. */
  readonly flush: (() => Promise<unknown>) | undefined;
}

/** A deployment's rows (P7, P7-64, P7-mem, with its suffix), raw figures and facts. */
interface Measured {
  rows: BenchResult[];
  figures: Record<string, unknown>;
  facts: Record<string, unknown>;
}

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

function morganManager(d: Deployment, keyPrefix: string): SessionManager {
  return new SessionManager({
    store: d.store(keyPrefix),
    sessionTimeoutMs: TIMEOUT_MS,
    createRateLimit: false,
    requestRateLimit: COUNT_WITHOUT_LIMIT,
  });
}

const others = (v: Variant) => othersCores(v).toFixed(2);
const bytes = (n: number) => `${Math.round(n)} B`;
const fmt = (opsPerSecond: number) => `${Math.round(opsPerSecond).toLocaleString('en-US')} req/s`;
const cpu = (d: Deployment, v: Variant) =>
  `CPU ${(v.nodeCpuUs / v.ops).toFixed(1)} µs Node / ${(v.redisCpuUs / v.ops).toFixed(1)} µs ${d.redisLabel}`;
const commands = (v: Variant) =>
  Object.entries(commandsPerOp(v))
    .map(([name, perOp]) => `${name} ${perOp}`)
    .join(', ');
const byType = (memory: SessionMemory) =>
  Object.entries(memory.keys.byType)
    .map(([type, t]) => `${type}: ${t.keys} keys, ${bytes(t.bytes / MEMORY_SESSIONS)}`)
    .join('; ');
/** The keys on each master, when there are several: '; keys per master 6672/6664/6680'. */
const perNode = (memory: SessionMemory) =>
  memory.keys.byNode.length > 1
    ? `; keys per master ${memory.keys.byNode.map((n) => n.keys).join('/')}`
    : '';
const redisVersion = async (send: RedisCommand) =>
  /^redis_version:(\S+)/m.exec(String(await send(['INFO', 'server'])))?.[1] ?? 'unknown';

/** The P7 rows on one deployment: memory first, then the request rounds. */
async function measure(d: Deployment): Promise<Omit<Measured, 'facts'>> {
  const { prefix } = d;
  // Memory first, on servers holding nothing else of ours yet.
  const warm = morganManager(d, `${prefix}warm:`);
  for (let i = 0; i < WARM_SESSIONS; i += 1) {
    await warm.deleteSession((await warm.createSession({ userId: 'warm' })).sessionId);
  }
  await warm.stop(); // the scripts are now loaded: their cache is not a session's cost
  /** Memory of MEMORY_SESSIONS RedisStore sessions made by `manager.createSession(input(i))`. */
  const morganMemoryOf = async (name: string, input: (i: number) => CreateSessionInput) => {
    const keyPrefix = `${prefix}${name}:`;
    const filled = morganManager(d, keyPrefix);
    const memory = await sessionMemory(d.nodes, MEMORY_SESSIONS, keyPrefix, (i) =>
      filled.createSession(input(i)),
    );
    await filled.stop();
    await d.flush?.();
    return memory;
  };
  const morganMemory = await morganMemoryOf('mem-morgan', (i) => ({
    userId: `user-${i}`,
    metadata: METADATA,
  }));
  const anonMemory = await morganMemoryOf('mem-anon', () => ({ metadata: METADATA }));
  const memConnect = new ConnectRedisStore({
    client: d.connectClient,
    prefix: `${prefix}mem-sess:`,
    ttl: TIMEOUT_MS / 1000,
  });
  const connectMemory = await sessionMemory(d.nodes, MEMORY_SESSIONS, `${prefix}mem-sess:`, (i) =>
    memConnect.set(randomUUID(), expressSession(i)),
  );
  await d.flush?.();

  const manager = morganManager(d, `${prefix}morgan:`).start();
  const connect = new ConnectRedisStore({
    client: d.connectClient,
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
    if (session === null || session === undefined) throw new Error('connect-redis lost a session');
    session.views = (session.views ?? 0) + 1;
    await connect.set(sid, session);
  };

  const single = d.suffix === '';
  const rows: BenchResult[] = [];
  const figures: Record<string, unknown> = {};
  for (const inFlight of IN_FLIGHT) {
    const morganV = variant('RedisStore beginRequest + end', morganRequest);
    const connectV = variant('connect-redis get + set', connectRequest);
    // Warm up connections, script cache and JIT, then alternate the order each round.
    for (const v of [connectV, morganV]) await throughput(OPERATIONS, inFlight, v.operation);
    for (let round = 0; round < d.rounds; round += 1) {
      const order = round % 2 === 0 ? [connectV, morganV] : [morganV, connectV];
      for (const v of order) await measureRound(v, d.nodes, OPERATIONS, inFlight);
    }
    const morganMedian = median(morganV.rounds);
    const connectMedian = median(connectV.rounds);
    const ratio = morganMedian / connectMedian;
    const bestRatio = Math.max(...morganV.rounds) / Math.max(...connectV.rounds);
    const first = inFlight === IN_FLIGHT[0];
    const id = `${first ? 'P7' : `P7-${inFlight}`}${d.suffix}`;
    figures[id] = {
      inFlight,
      rounds: d.rounds,
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
    let target = '- (transparency: Redis Cluster)';
    if (single) target = first ? '>= 1.5x' : '- (transparency: pipelined)';
    rows.push({
      id,
      what: `RedisStore per request vs connect-redis get+set, ${inFlight} in flight${d.label}`,
      measured: `${ratio.toFixed(2)}x (${fmt(morganMedian)})`,
      target,
      ...(single && first ? { met: ratio >= 1.5 } : {}),
      detail:
        `Median of ${d.rounds} alternating rounds of ${OPERATIONS} requests each; ` +
        `best rounds ${bestRatio.toFixed(2)}x. RedisStore, what sessionMiddleware does ` +
        `(beginRequest = addRequest script, end = removeRequest script; 2 round trips): ` +
        `${fmt(morganMedian)}, ${cpu(d, morganV)}, Redis ran per request: ${commands(morganV)}. ` +
        `connect-redis, what express-session does when the handler changes the session ` +
        `(get = GET, set = SET EX; 2 round trips): ${fmt(connectMedian)}, ${cpu(d, connectV)}, ` +
        `Redis ran per request: ${commands(connectV)}. ${SESSIONS} sessions each, ` +
        `${d.where}; ${d.clients}. ` +
        `Other processes on this ${cpus().length}-core machine used ${others(morganV)} of a ` +
        `core during the RedisStore rounds, ${others(connectV)} during the connect-redis ones.`,
    });
  }
  await manager.stop();

  const memRatio = morganMemory.bytesPerSession / connectMemory.bytesPerSession;
  const memId = `P7-mem${d.suffix}`;
  figures[memId] = {
    sessions: MEMORY_SESSIONS,
    morgan: morganMemory,
    morganAnonymous: anonMemory,
    connect: connectMemory,
  };
  const summed =
    d.nodes.length > 1
      ? ` (SCAN of each of the ${d.nodes.length} masters, summed; used_memory summed too)`
      : '';
  rows.push({
    id: memId,
    what: `Redis memory per idle session, ${MEMORY_SESSIONS.toLocaleString('en-US')} sessions${d.label}`,
    measured: `${bytes(morganMemory.bytesPerSession)} vs ${bytes(connectMemory.bytesPerSession)} (${memRatio.toFixed(2)}x)`,
    target: '- (transparency)',
    detail:
      `MEMORY USAGE (SAMPLES 0) of every key each store wrote, per session${summed}. ` +
      `RedisStore (session hash and its index entries, sessions with a userId and metadata): ` +
      `${byType(morganMemory)}${perNode(morganMemory)}; used_memory ` +
      `+${bytes(morganMemory.usedMemoryPerSession)} per session; without a userId ` +
      `${bytes(anonMemory.bytesPerSession)} (${byType(anonMemory)}${perNode(anonMemory)}; ` +
      `used_memory +${bytes(anonMemory.usedMemoryPerSession)}). connect-redis (one JSON ` +
      `string per session, with its cookie and userId): ${byType(connectMemory)}` +
      `${perNode(connectMemory)}; used_memory +${bytes(connectMemory.usedMemoryPerSession)} ` +
      `per session. ${d.where}` +
      `${d.flush !== undefined ? ', flushed between stores' : ', shared: used_memory includes other writers'}; ` +
      `raw figures in bench/results/P7.json`,
  });
  return { rows, figures };
}

/** The P7 rows on one redis-server (REDIS_URL's, or a private one). */
async function onOneRedis(): Promise<Measured> {
  await using redis = await startRedis({ namespace: 'morgan-bench' });
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    const send: RedisCommand = (args) => client.sendCommand(args);
    const version = await redisVersion(send);
    const measured = await measure({
      suffix: '',
      label: '',
      rounds: ROUNDS,
      nodes: [send],
      prefix: `${redis.keyPrefix}p7:`,
      where: `${redis.owned ? 'a private redis-server' : 'the REDIS_URL server'} (Redis ${version})`,
      clients: 'ioredis for RedisStore, node-redis for connect-redis',
      redisLabel: 'Redis',
      store: (keyPrefix) => new RedisStore({ url: redis.url, keyPrefix }),
      connectClient: client,
      flush: redis.owned ? () => send(['FLUSHALL']) : undefined,
    });
    return { ...measured, facts: { version, owned: redis.owned } };
  } finally {
    await client.quit();
  }
}

/** The P7 rows on a Redis Cluster (REDIS_CLUSTER_NODES's, or three private masters). */
async function onRedisCluster(): Promise<Measured> {
  await using cluster = await startRedisCluster({ namespace: 'morgan-bench' });
  const connectCluster = createCluster({
    rootNodes: cluster.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
  });
  await connectCluster.connect();
  // A connection of our own to each master, for INFO, SCAN and MEMORY USAGE.
  const masters = await Promise.all(
    connectCluster.masters.map(async ({ host, port }) => {
      const client = createClient({ socket: { host, port } });
      await client.connect();
      return client;
    }),
  );
  try {
    const nodes: RedisCommand[] = masters.map((client) => (args) => client.sendCommand(args));
    const version = await redisVersion(nodes[0] as RedisCommand);
    const count = nodes.length;
    const where = cluster.owned
      ? `a private ${count}-master Redis Cluster (Redis ${version}; no replicas, on this machine)`
      : `the REDIS_CLUSTER_NODES cluster (Redis ${version}; ${count} masters)`;
    const measured = await measure({
      suffix: '-cluster',
      label: ', Redis Cluster',
      rounds: CLUSTER_ROUNDS,
      nodes,
      prefix: `${cluster.keyPrefix}p7:`,
      where,
      clients:
        'ioredis Cluster for RedisStore (clusterNodes), node-redis createCluster for connect-redis',
      redisLabel: `Redis (${count} masters together)`,
      store: (keyPrefix) =>
        new RedisStore({ clusterNodes: cluster.nodesEnv.split(','), keyPrefix }),
      connectClient: connectCluster,
      flush: cluster.owned ? () => cluster.flushAll() : undefined,
    });
    const addresses = connectCluster.masters.map(({ host, port }) => `${host}:${port}`);
    return { ...measured, facts: { version, owned: cluster.owned, masters: addresses } };
  } finally {
    await Promise.all(masters.map((client) => client.quit()));
    await connectCluster.quit();
  }
}

async function run(): Promise<BenchResult[]> {
  const single = await onOneRedis();
  const cluster = await onRedisCluster();
  writeResults('P7', {
    commit: gitCommit(),
    redis: single.facts,
    cluster: cluster.facts,
    figures: { ...single.figures, ...cluster.figures },
  });
  // Side by side: P7, P7-cluster, P7-64, P7-64-cluster, P7-mem, P7-mem-cluster.
  return single.rows.flatMap((row, i) => {
    const beside = cluster.rows[i];
    return beside === undefined ? [row] : [row, beside];
  });
}

const target: BenchTarget = { ids: ['P7'], run };
export default target;
