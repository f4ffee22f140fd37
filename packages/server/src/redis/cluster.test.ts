// The Redis store and event log on a real Redis Cluster (three masters from
// Debian's redis-server, started here, or REDIS_CLUSTER_NODES): the same
// conformance suites and two-node tests as on one Redis, plus what only a
// cluster shows: keys spread over the masters, sharded pub/sub.
import { randomBytes, randomUUID } from 'node:crypto';
import { type RedisTestCluster, startRedisCluster } from '@morgan/test-support';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEventLogConformance } from '../conformance/event-log.js';
import { sessionRecord as record } from '../conformance/records.js';
import { describeStoreConformance } from '../conformance/store.js';
import type { SessionEvent } from '../events/event-log.js';
import { vitestRunner } from '../testing/vitest-runner.js';
import { RedisEventLog } from './event-log.js';
import { KeyLayout, SHARDS } from './key-layout.js';
import { describeRedisNodes } from './nodes.test-suite.js';
import { RedisStore } from './redis-store.js';

let cluster: RedisTestCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const clusterNodes = () => cluster.nodes.map((node) => `${node.host}:${node.port}`);
const freshPrefix = () => `${cluster.keyPrefix}${randomBytes(4).toString('hex')}:`;

/** A store on the cluster under `keyPrefix` (the suite expects touches to land exactly; coalescing has its own tests). */
const clusterStore = (keyPrefix: string) =>
  new RedisStore({ clusterNodes: clusterNodes(), keyPrefix, touchResolutionMs: 0 });

describeStoreConformance(vitestRunner, {
  name: 'RedisStore on Redis Cluster',
  capabilities: ['idempotency', 'rateLimits', 'listing', 'events'],
  createStore: () => clusterStore(freshPrefix()),
  createPeer: (store) => clusterStore(store.keyPrefix),
});

describeEventLogConformance(vitestRunner, {
  name: 'RedisEventLog on Redis Cluster',
  createLog: (options) =>
    new RedisEventLog({ clusterNodes: clusterNodes(), keyPrefix: freshPrefix(), ...options }),
});

describeRedisNodes('Redis Cluster', () => ({
  connection: { clusterNodes: clusterNodes() },
  keyPrefix: freshPrefix(),
}));

describe('the key layout on Redis Cluster', () => {
  it('spreads sessions over the masters, one slot per shard, every key of a shard in it', async () => {
    const keyPrefix = freshPrefix();
    const store = new RedisStore({ clusterNodes: clusterNodes(), keyPrefix });
    const admin = new Cluster(cluster.nodes.map(({ host, port }) => ({ host, port })));
    try {
      const t0 = Date.now();
      const sessions = Array.from({ length: 64 }, () => record(t0, { userId: 'spread' }));
      await Promise.all(sessions.map((value) => store.create(value)));
      await store.addConnection(sessions[0]?.sessionId ?? '', t0 + 1);
      const layout = new KeyLayout(keyPrefix);
      const slotOf = (key: string) => admin.call('CLUSTER', 'KEYSLOT', key) as Promise<number>;
      const slots = new Set<number>();
      for (const value of sessions) {
        const shard = layout.shardOf(value.sessionId);
        const slot = await slotOf(layout.session(value.sessionId));
        for (const key of [shard.idle, shard.pinned, shard.nodes, shard.pins(store.nodeId)]) {
          expect(await slotOf(key)).toBe(slot);
        }
        slots.add(slot);
      }
      expect(slots.size).toBeGreaterThan(SHARDS / 2);
      // The shards' slots are served by more than one master.
      const masters = new Set(
        [...slots].map((slot) => admin.slots[slot]?.[0]).filter((node) => node !== undefined),
      );
      expect(masters.size).toBeGreaterThan(1);
      expect(await store.count()).toBe(64);
      expect(await store.listByUser('spread', t0 + 1)).toHaveLength(64);
      expect(await store.list(10, t0 + 1)).toHaveLength(10);
    } finally {
      await store.close();
      admin.disconnect();
    }
  });

  it('delivers live events by sharded pub/sub to a node subscribed on another master', async () => {
    const keyPrefix = freshPrefix();
    const writer = new RedisEventLog({ clusterNodes: clusterNodes(), keyPrefix });
    const reader = new RedisEventLog({ clusterNodes: clusterNodes(), keyPrefix });
    try {
      const received: SessionEvent[] = [];
      const sessions = Array.from({ length: 8 }, () => randomUUID());
      for (const sessionId of sessions)
        reader.subscribe(sessionId, (event) => received.push(event));
      // readAfter waits for the subscription of each session to be acknowledged.
      await Promise.all(sessions.map((sessionId) => reader.readAfter(sessionId)));
      for (const sessionId of sessions) await writer.append(sessionId, 'note', { sessionId });
      await expect.poll(() => received.length, { timeout: 10_000 }).toBe(sessions.length);
      expect(
        received.map((event) => (event.data as { sessionId: string }).sessionId).sort(),
      ).toEqual([...sessions].sort());
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });
});
