import { existsSync, readlinkSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseClusterNodes,
  type RedisTestCluster,
  redisServerVersion,
  startRedisCluster,
} from './redis-cluster.js';

let cluster: RedisTestCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ own: true, namespace: 'morgan-support' });
  client = new Cluster([...cluster.nodes]);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

/** Port of the master that serves `key`, from the cluster's own slot map. */
async function ownerOf(key: string): Promise<number> {
  const slot = Number(await client.cluster('KEYSLOT', key));
  const ranges = await client.cluster('SLOTS');
  const port = ranges.find(([first, last]) => slot >= first && slot <= last)?.[2]?.[1];
  if (port === undefined) throw new Error(`slot ${slot} of ${key} has no master`);
  return port;
}

/** One key per master, each under this cluster's prefix: `keys[i]` lives on `nodes[i]`. */
async function keyPerMaster(tag: string): Promise<string[]> {
  const keys = new Map<number, string>();
  for (let i = 0; keys.size < cluster.nodes.length; i += 1) {
    const key = `${cluster.keyPrefix}${tag}${i}`;
    const port = await ownerOf(key);
    if (!keys.has(port)) keys.set(port, key);
  }
  return cluster.nodes.map(({ port }) => keys.get(port) as string);
}

async function onNode(port: number, fn: (node: Redis) => Promise<unknown>): Promise<unknown> {
  const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  try {
    return await fn(node);
  } finally {
    node.disconnect();
  }
}

describe('startRedisCluster', () => {
  it('runs on Redis 7 or later (sharded pub/sub)', () => {
    expect(Number(redisServerVersion()?.split('.')[0])).toBeGreaterThanOrEqual(7);
  });

  it('spawns three masters that share all 16384 slots', async () => {
    expect(cluster.owned).toBe(true);
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.nodesEnv).toBe(cluster.nodes.map(({ port }) => `127.0.0.1:${port}`).join(','));
    expect(cluster.env).toEqual({
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      MORGAN_REDIS_PREFIX: cluster.keyPrefix,
    });
    expect(cluster.keyPrefix).toMatch(/^morgan-support:[0-9a-f]{12}:$/);
    expect(cluster.pids.every((pid) => typeof pid === 'number')).toBe(true);
    const info = String(await client.cluster('INFO'));
    expect(info).toMatch(/^cluster_state:ok/m);
    expect(info).toMatch(/^cluster_slots_ok:16384/m);
    expect(info).toMatch(/^cluster_size:3/m);
  });

  it('sets and reads keys in slots of every master', async () => {
    const keys = await keyPerMaster('spread');
    for (const key of keys) await client.set(key, `value of ${key}`);
    for (const key of keys) expect(await client.get(key)).toBe(`value of ${key}`);
    for (const [index, { port }] of cluster.nodes.entries()) {
      const key = keys[index] as string;
      expect(await onNode(port, (node) => node.call('GET', key))).toBe(`value of ${key}`);
    }
  });

  it('restarts a master on its port with its slots; its keys are gone, the others stay', async () => {
    const [onFirst, onSecond] = await keyPerMaster('restart');
    const slotsBefore = await client.cluster('SLOTS');
    await client.set(onFirst as string, 'before');
    await client.set(onSecond as string, 'kept');
    const [pidBefore] = cluster.pids;

    await cluster.restartMaster(0);

    expect(cluster.pids[0]).toBeTypeOf('number');
    expect(cluster.pids[0]).not.toBe(pidBefore);
    expect(sortSlots(await client.cluster('SLOTS'))).toEqual(sortSlots(slotsBefore));
    expect(await client.get(onFirst as string)).toBeNull(); // no persistence
    expect(await client.get(onSecond as string)).toBe('kept');
    await client.set(onFirst as string, 'after');
    expect(await client.get(onFirst as string)).toBe('after');
  });

  it('restarts a master after SIGKILL too', async () => {
    await cluster.restartMaster(1, 'SIGKILL');
    const [, onSecond] = await keyPerMaster('killed');
    await client.set(onSecond as string, 'written');
    expect(await client.get(onSecond as string)).toBe('written');
  });

  it('shares a REDIS_CLUSTER_NODES cluster and deletes only its own keys on stop', async () => {
    const shared = await startRedisCluster({ env: { REDIS_CLUSTER_NODES: cluster.nodesEnv } });
    expect(shared.owned).toBe(false);
    expect(shared.nodes).toEqual(cluster.nodes);
    expect(shared.pids).toEqual([]);
    expect(shared.keyPrefix).not.toBe(cluster.keyPrefix);
    await expect(shared.restartMaster(0)).rejects.toThrow(/own: true/);
    await expect(shared.flushAll()).rejects.toThrow(/own: true/);
    const theirs = Array.from({ length: 20 }, (_, i) => `${shared.keyPrefix}k${i}`);
    for (const key of theirs) await client.set(key, '1');
    const mine = `${cluster.keyPrefix}mine`;
    await client.set(mine, '2');
    await shared.stop();
    for (const key of theirs) expect(await client.exists(key)).toBe(0);
    expect(await client.get(mine)).toBe('2');
  });

  it('reads REDIS_CLUSTER_NODES and names it when an entry is not host:port', () => {
    expect(parseClusterNodes('127.0.0.1:7000, localhost:7001,[::1]:7002')).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: 'localhost', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(() => parseClusterNodes('127.0.0.1:7000,7001')).toThrow(/REDIS_CLUSTER_NODES: "7001"/);
    expect(() => parseClusterNodes('127.0.0.1:0')).toThrow(/REDIS_CLUSTER_NODES/);
  });

  it('flushAll empties every master', async () => {
    for (const key of await keyPerMaster('flush')) await client.set(key, '1');
    await cluster.flushAll();
    for (const { port } of cluster.nodes) {
      expect(await onNode(port, (node) => node.dbsize())).toBe(0);
    }
  });

  it('stop() ends every master by PID and removes its directory', async () => {
    const pids = cluster.pids.filter((pid): pid is number => pid !== undefined);
    expect(pids).toHaveLength(3);
    const dir = readlinkSync(`/proc/${pids[0]}/cwd`); // redis-server runs in its --dir
    client.disconnect();
    await cluster.stop();
    expect(pids.filter(isRunning)).toEqual([]);
    expect(cluster.pids).toEqual([undefined, undefined, undefined]);
    expect(existsSync(dir)).toBe(false);
  });
});

type SlotRanges = [
  first: number,
  last: number,
  ...owners: [host: string, port: number, ...more: unknown[]][],
][];

function sortSlots(slots: SlotRanges): string[] {
  return slots.map(([first, last, owner]) => `${first}-${last}@${owner?.[0]}:${owner?.[1]}`).sort();
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
