import { randomBytes, randomUUID } from 'node:crypto';
import { deleteKeys, type RedisTestServer, startRedis } from '@morgan/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEventLogConformance } from '../conformance/event-log.js';
import { ErrorCode } from '../errors.js';
import type { SessionEvent } from '../events/event-log.js';
import { streamSessionEvents } from '../events/stream.js';
import { SessionManager } from '../manager.js';
import { CommandMonitor } from '../testing/command-monitor.js';
import { vitestRunner } from '../testing/vitest-runner.js';
import { RedisEventLog, type RedisEventLogOptions } from './event-log.js';
import { KeyLayout } from './key-layout.js';

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describeEventLogConformance(vitestRunner, {
  name: 'RedisEventLog',
  createLog: (options) =>
    new RedisEventLog({ url: redis.url, keyPrefix: redis.keyPrefix, ...options }),
});

/** Waits until `check()` holds, polling every 5 ms for at most 15 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Retries `operation` every 50 ms until it resolves, for at most 10 s. */
async function eventually<T>(operation: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('RedisEventLog on a real redis-server', () => {
  let keyPrefix: string;
  let admin: Redis;
  const logs: RedisEventLog[] = [];
  const node = (options: RedisEventLogOptions = {}) => {
    const log = new RedisEventLog({ url: redis.url, keyPrefix, ...options });
    logs.push(log);
    return log;
  };

  beforeAll(() => {
    keyPrefix = `${redis.keyPrefix}${randomBytes(4).toString('hex')}:`;
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    await Promise.all(logs.map((log) => log.close()));
    await deleteKeys(redis.url, keyPrefix);
    await admin.quit();
  });

  it('costs one round trip per append, read and drop', async () => {
    await using monitor = await CommandMonitor.open(redis.url);
    const log = node();
    await log.ping();
    const id = randomUUID();
    const costs: Record<string, string[]> = {};
    const operations: [string, () => Promise<unknown>][] = [
      ['append', () => log.append(id, 'm', { n: 1 })],
      ['readAfter', () => log.readAfter(id, '0-1')],
      ['drop', () => log.drop(id)],
    ];
    for (const [name, operation] of operations) {
      for (let i = 0; i < 2; i += 1) {
        // Commands naming this test's keys only: other clients of a shared Redis do not count.
        const commands = await monitor.commandsOf(operation, { keyPrefix });
        costs[`${name}#${i}`] = commands.map((command) => command.name);
      }
    }
    expect(costs['append#1']).toEqual(['evalsha']);
    expect(costs['readAfter#1']).toEqual(['evalsha']);
    expect(costs['drop#1']).toEqual(['del']);
    for (const [name, commands] of Object.entries(costs)) {
      expect({ name, commands: commands.length }).toEqual({ name, commands: 1 });
    }
  });

  it('shares one buffer and live delivery between nodes: append on A, read and hear it on B', async () => {
    const a = node();
    const b = node();
    const id = randomUUID();
    const heardOnB: SessionEvent[] = [];
    const heardOnA: SessionEvent[] = [];
    b.subscribe(id, (event) => heardOnB.push(event));
    a.subscribe(id, (event) => heardOnA.push(event));
    await Promise.all([a.readAfter(id), b.readAfter(id)]);
    const sent: SessionEvent[] = [];
    for (let i = 0; i < 6; i += 1) sent.push(await (i % 2 === 0 ? a : b).append(id, 'm', i));
    await until(() => heardOnB.length === 6 && heardOnA.length === 6);
    expect(heardOnB).toEqual(sent);
    expect(heardOnA).toEqual(sent);
    expect((await b.readAfter(id, sent[1]?.id)).events).toEqual(sent.slice(2));
    expect(a.subscribedSessionCount).toBe(1);
  });

  it('keeps a TTL on the keys (at least the session timeout, re-armed by reads) and drop deletes them', async () => {
    const log = node();
    const manager = new SessionManager({ eventLog: log, sessionTimeoutMs: 2 * 60 * 60 * 1000 });
    const id = randomUUID();
    await log.append(id, 'm', 1);
    const layout = new KeyLayout(keyPrefix);
    const keys = [layout.eventStream(id), layout.eventMeta(id)];
    for (const key of keys) expect(await admin.pttl(key)).toBeGreaterThan(2 * 60 * 60 * 1000);
    await admin.pexpire(keys[0] as string, 5_000);
    await admin.pexpire(keys[1] as string, 5_000);
    await log.readAfter(id);
    for (const key of keys) expect(await admin.pttl(key)).toBeGreaterThan(2 * 60 * 60 * 1000);
    await log.drop(id);
    expect(await admin.exists(...keys)).toBe(0);
    expect(manager.events).toBe(log);
  });

  it('a subscription acknowledged late (the node was busy) still starts, and delivers', async () => {
    // The node blocks its event loop for longer than the command timeout
    // right after subscribing, as one does while hundreds of sockets reconnect.
    const log = node({ commandTimeoutMs: 200 });
    await log.ping();
    const id = randomUUID();
    const heard: SessionEvent[] = [];
    log.subscribe(id, (event) => heard.push(event));
    const busyUntil = Date.now() + 600;
    while (Date.now() < busyUntil) {
      // busy
    }
    await expect(log.readAfter(id)).resolves.toMatchObject({ events: [] });
    const sent = await node().append(id, 'm', 1);
    await until(() => heard.length === 1);
    expect(heard).toEqual([sent]);
  });

  it('ends subscriptions of a session dropped on any node, each node calling drop', async () => {
    const a = node();
    const b = node();
    const id = randomUUID();
    const ended: string[] = [];
    a.subscribe(
      id,
      () => undefined,
      () => ended.push('a'),
    );
    b.subscribe(
      id,
      () => undefined,
      () => ended.push('b'),
    );
    await a.drop(id);
    expect(ended).toEqual(['a']);
    await b.drop(id);
    expect(ended).toEqual(['a', 'b']);
    expect(a.subscribedSessionCount + b.subscribedSessionCount).toBe(0);
  });

  it('after its pub/sub connection is cut, delivers what was appended meanwhile, once and in order', async () => {
    const listener = node();
    const writer = node();
    const id = randomUUID();
    const abort = new AbortController();
    const received: SessionEvent[] = [];
    const reading = (async () => {
      for await (const event of streamSessionEvents(listener, id, { signal: abort.signal })) {
        received.push(event);
      }
    })();
    const first = await writer.append(id, 'm', 'before');
    await until(() => received.length === 1);
    expect(received[0]).toEqual(first);

    // Cut every pub/sub connection of this Redis; appends made before the
    // listener subscribes again are never published to it.
    await admin.client('KILL', 'TYPE', 'pubsub');
    const missed = [];
    for (let i = 0; i < 5; i += 1) missed.push(await writer.append(id, 'm', `missed-${i}`));
    await until(() => received.length === 6);
    const later = await writer.append(id, 'm', 'after');
    await until(() => received.length === 7);
    abort.abort();
    await writer.append(id, 'm', 'wake');
    await reading;
    expect(received).toEqual([first, ...missed, later]);
  });

  it('rejects with STORE_UNAVAILABLE once closed, and close releases its connections', async () => {
    const log = new RedisEventLog({ url: redis.url, keyPrefix });
    const id = randomUUID();
    log.subscribe(id, () => undefined);
    await log.readAfter(id);
    const sockets = () =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
    const before = sockets();
    await log.close();
    await until(() => sockets() === before - 2);
    await expect(log.append(id, 'm', 1)).rejects.toMatchObject({
      code: ErrorCode.STORE_UNAVAILABLE,
    });
    expect(() => log.subscribe(id, () => undefined)).toThrow(
      expect.objectContaining({ code: ErrorCode.STORE_UNAVAILABLE }),
    );
  });
});

describe('RedisEventLog during a Redis outage', () => {
  it('fails fast with STORE_UNAVAILABLE, then serves the buffer and live events again', async () => {
    await using own = await startRedis({ own: true, persistent: true });
    // 1 s: a reply a busy machine delays is not an outage; a stopped server fails at once anyway.
    const options = { url: own.url, keyPrefix: own.keyPrefix, commandTimeoutMs: 1_000 };
    const log = new RedisEventLog(options);
    const writer = new RedisEventLog(options);
    try {
      const id = randomUUID();
      const heard: SessionEvent[] = [];
      log.subscribe(id, (event) => heard.push(event));
      await log.readAfter(id);
      const before = await writer.append(id, 'm', 'before');
      await until(() => heard.length === 1);

      await own.stopServer();
      const unavailable = { code: ErrorCode.STORE_UNAVAILABLE };
      await expect(writer.append(id, 'm', 'refused')).rejects.toMatchObject(unavailable);
      await expect(log.readAfter(id, before.id)).rejects.toMatchObject(unavailable);
      await expect(log.drop(randomUUID())).rejects.toMatchObject(unavailable);

      await own.startServer();
      const after = await eventually(() => writer.append(id, 'm', 'after'));
      await until(() => heard.some((event) => event.id === after.id));
      const replay = await log.readAfter(id, before.id);
      expect(replay).toEqual({ events: [after], gap: false });
    } finally {
      await Promise.all([log.close(), writer.close()]);
    }
  });
});
