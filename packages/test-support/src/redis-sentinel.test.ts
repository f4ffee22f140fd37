import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedisSentinel } from './redis-sentinel.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('startRedisSentinel', () => {
  it('runs a master, a replica and three sentinels that promote the replica when the master dies', async () => {
    const started = Date.now();
    let pids: number[] = [];
    {
      await using sentinel = await startRedisSentinel({ namespace: 'morgan-support' });
      expect(sentinel.sentinels).toHaveLength(3);
      expect(sentinel.servers).toHaveLength(2);
      expect(sentinel.keyPrefix).toMatch(/^morgan-support:[0-9a-f]{12}:$/);
      expect(sentinel.env).toEqual({
        REDIS_SENTINELS: sentinel.sentinelsEnv,
        REDIS_SENTINEL_NAME: 'mymaster',
        MORGAN_REDIS_PREFIX: sentinel.keyPrefix,
      });
      expect(await sentinel.master()).toEqual(sentinel.servers[0]);
      pids = sentinel.pids.filter((pid) => pid !== undefined);
      expect(pids).toHaveLength(2);

      // Through the sentinels, as the stores connect.
      const client = new Redis({
        sentinels: [...sentinel.sentinels],
        name: sentinel.masterName,
        maxRetriesPerRequest: 1,
      });
      client.on('error', () => {});
      try {
        await client.set(`${sentinel.keyPrefix}k`, 'v');
        expect(await client.wait(1, 5_000)).toBe(1);
        const old = await sentinel.killMaster();
        expect(old).toEqual(sentinel.servers[0]);
        expect(sentinel.pids[0]).toBeUndefined();
        const promoted = await sentinel.waitForFailover(old);
        expect(promoted).toEqual(sentinel.servers[1]);
        expect(await sentinel.master()).toEqual(promoted);
        const direct = new Redis({ ...promoted, maxRetriesPerRequest: 1 });
        try {
          expect(await direct.get(`${sentinel.keyPrefix}k`)).toBe('v');
        } finally {
          direct.disconnect();
        }
      } finally {
        client.disconnect();
      }
    }
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 90_000);

  it('fails loudly and leaves no process behind when a sentinel cannot start', async () => {
    // A name with a space breaks the sentinel config, after master and replica started.
    await expect(startRedisSentinel({ masterName: 'bad name' })).rejects.toThrow(/did not start/);
    const children = spawnSync('ps', ['--ppid', String(process.pid), '-o', 'comm='], {
      encoding: 'utf8',
    });
    expect(children.stdout).not.toContain('redis-server');
  }, 60_000);
});
