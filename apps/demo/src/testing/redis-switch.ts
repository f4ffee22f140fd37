// Test resource: a Redis the test can take away and bring back. A private
// redis-server (the harness spawns one when REDIS_URL is unset) is really
// stopped and restarted, with an fsynced append-only file so nothing it
// acknowledged is lost; a shared REDIS_URL server is never touched: the nodes
// reach it through a loopback gate that refuses and cuts connections instead.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import { pipeBothWays } from './pipe.js';

/** A Redis for the nodes of one test file, with an off switch. */
export interface RedisSwitch extends AsyncDisposable {
  /** What the nodes use as `REDIS_URL`. */
  readonly url: string;
  /** A random key prefix for `MORGAN_REDIS_PREFIX`. */
  readonly keyPrefix: string;
  /** Redis (or the way to it) goes away: connections are refused. */
  down(): Promise<void>;
  /** Redis is reachable again, on the same address. */
  up(): Promise<void>;
  /** Stops what this resource started and deletes its keys. */
  close(): Promise<void>;
}

/**
 * @example
 * await using redis = await startRedisSwitch();
 * await redis.down(); … await redis.up();
 */
export async function startRedisSwitch(): Promise<RedisSwitch> {
  const redis = await startRedis({ persistent: true });
  if (redis.owned) {
    return {
      url: redis.url,
      keyPrefix: redis.keyPrefix,
      down: () => redis.stopServer(),
      up: () => redis.startServer(),
      close: () => redis.stop(),
      [Symbol.asyncDispose]: () => redis.stop(),
    };
  }
  const gate = await openGate(redis);
  const close = async () => {
    await gate.down();
    await redis.stop();
  };
  return {
    url: `redis://127.0.0.1:${gate.port}`,
    keyPrefix: redis.keyPrefix,
    down: gate.down,
    up: gate.up,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function openGate(redis: RedisTestServer) {
  const target = new URL(redis.url);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const up = async (): Promise<void> => {
    if (server !== undefined) return;
    const listening = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      pipeBothWays(client, upstream, sockets);
    });
    await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
    const address = listening.address();
    port = typeof address === 'object' && address !== null ? address.port : port;
    server = listening;
  };
  const down = async (): Promise<void> => {
    const listening = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (listening !== undefined) await new Promise((resolve) => listening.close(resolve));
  };
  await up();
  return { port, up, down };
}
