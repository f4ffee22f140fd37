// One master of a real Redis Cluster restarted under load: two nodes keep
// serving, answer STORE_UNAVAILABLE (never anything else) for the slots that
// are down meanwhile, and recover by themselves once the master is back,
// live events included (the sharded subscriptions on that master come back).
// Needs a cluster of its own (it restarts a master): REDIS_CLUSTER_NODES is
// not used here.
import { randomUUID } from 'node:crypto';
import { type RedisTestCluster, startRedisCluster } from '@morgan/test-support';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MorganError } from '../errors.js';
import type { SessionEvent } from '../events/event-log.js';
import { SessionManager } from '../manager.js';
import { RedisEventLog } from './event-log.js';
import { KeyLayout } from './key-layout.js';
import { RedisStore } from './redis-store.js';

let cluster: RedisTestCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ own: true });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe('a master of the cluster restarted under load', () => {
  it('nodes answer STORE_UNAVAILABLE while it is down and recover by themselves, live events included', async () => {
    const clusterNodes = cluster.nodes.map((node) => `${node.host}:${node.port}`);
    const keyPrefix = cluster.keyPrefix;
    const node = (nodeId: string) =>
      new SessionManager({
        store: new RedisStore({ clusterNodes, keyPrefix, nodeId, commandTimeoutMs: 500 }),
        eventLog: new RedisEventLog({ clusterNodes, keyPrefix, commandTimeoutMs: 500 }),
        createRateLimit: false,
      }).start();
    const a = node('a');
    const b = node('b');
    const admin = new Cluster(cluster.nodes.map(({ host, port }) => ({ host, port })));
    try {
      await Promise.all([a, b].map((m) => (m.store as RedisStore).ready()));
      const first = cluster.nodes[0];
      const masterKey = `${first?.host}:${first?.port}`;
      const layout = new KeyLayout(keyPrefix);
      const onMaster = async (key: string) => {
        const slot = (await admin.call('CLUSTER', 'KEYSLOT', key)) as number;
        return admin.slots[slot]?.[0] === masterKey;
      };
      // Sessions until some live on the master that goes down and some elsewhere.
      const sessions: { id: string; down: boolean }[] = [];
      while (!(sessions.some((s) => s.down) && sessions.some((s) => !s.down))) {
        const { sessionId } = await a.createSession();
        sessions.push({ id: sessionId, down: await onMaster(layout.eventChannel(sessionId)) });
      }
      // B listens to every session's events, live, from before the restart.
      const received = new Map<string, SessionEvent[]>();
      for (const { id } of sessions) {
        received.set(id, []);
        b.events.subscribe(id, (event) => received.get(id)?.push(event));
      }
      await Promise.all(sessions.map(({ id }) => b.events.readAfter(id)));

      const failures = new Set<string>();
      let running = true;
      const load = (async () => {
        while (running) {
          for (const { id } of sessions) {
            await Promise.all([
              a.touch(id),
              b.getSession(id),
              a.events.append(id, 'tick', {}),
            ]).catch((error: unknown) => {
              failures.add(error instanceof MorganError ? error.code : String(error));
            });
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      await cluster.restartMaster(0, 'SIGKILL');
      running = false;
      await load;
      // Only "unavailable" while the master was down; no script error, no crash.
      expect([...failures].filter((code) => code !== 'STORE_UNAVAILABLE')).toEqual([]);

      // Back by themselves: sessions work on both nodes, on every master
      // (the restarted one lost its data: no persistence in this cluster).
      const deadline = Date.now() + 30_000;
      for (;;) {
        const fresh = await a.createSession().catch(() => undefined);
        const ok =
          fresh !== undefined &&
          (await b.getSession(fresh.sessionId).catch(() => undefined)) !== undefined;
        if (ok) break;
        if (Date.now() > deadline) throw new Error('the nodes did not recover within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Straight to the event log: a session whose hash was on the restarted master is gone.
      for (const { id } of sessions) await a.events.append(id, 'after', { id });
      // B's subscriptions from before the restart deliver again, on the restarted master too.
      for (const { id, down } of sessions) {
        await expect
          .poll(() => received.get(id)?.some((event) => event.type === 'after'), {
            timeout: 20_000,
            message: `live events of a session on ${down ? 'the restarted master' : 'another master'}`,
          })
          .toBe(true);
      }
      expect(await a.store.count()).toBeGreaterThan(0);
    } finally {
      admin.disconnect();
      await Promise.all([a.stop({ drainTimeoutMs: 0 }), b.stop({ drainTimeoutMs: 0 })]);
    }
  }, 90_000);
});

// The ids are UUIDs: any other first character still maps to a shard.
describe('shard of an odd id', () => {
  it('maps ids that do not start with a hex digit', () => {
    const layout = new KeyLayout('p:');
    expect(layout.session(`z${randomUUID()}`)).toMatch(/^p:\{s\d+\}s:/);
  });
});
