import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys, type RedisTestServer, startRedis } from './redis-server.js';

let own: RedisTestServer;
let client: Redis;

beforeAll(async () => {
  own = await startRedis({ own: true, namespace: 'morgan-support' });
  client = new Redis(own.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  client?.disconnect();
  await own?.stop();
});

describe('startRedis', () => {
  it('spawns a private server with a prefix and a node environment of its own', async () => {
    expect(own.owned).toBe(true);
    expect(own.pid).toBeTypeOf('number');
    expect(own.keyPrefix).toMatch(/^morgan-support:[0-9a-f]{12}:$/);
    expect(own.env).toEqual({ REDIS_URL: own.url, MORGAN_REDIS_PREFIX: own.keyPrefix });
    expect(await client.ping()).toBe('PONG');
  });

  it('shares a REDIS_URL server and deletes only its own keys on stop', async () => {
    const shared = await startRedis({ env: { REDIS_URL: own.url } });
    expect(shared.owned).toBe(false);
    expect(shared.keyPrefix).not.toBe(own.keyPrefix);
    await client.set(`${shared.keyPrefix}a`, '1');
    await client.set(`${own.keyPrefix}b`, '2');
    await expect(shared.stopServer()).rejects.toThrow(/own: true/);
    await shared.stop();
    expect(await client.exists(`${shared.keyPrefix}a`)).toBe(0);
    expect(await client.get(`${own.keyPrefix}b`)).toBe('2');
    await deleteKeys(own.url, own.keyPrefix);
    expect(await client.exists(`${own.keyPrefix}b`)).toBe(0);
  });

  it('stops and starts its server again on the same port', async () => {
    const { port } = own;
    await own.stopServer();
    expect(own.pid).toBeUndefined();
    await own.startServer();
    expect(own.port).toBe(port);
    expect(await client.ping()).toBe('PONG');
  });
});
