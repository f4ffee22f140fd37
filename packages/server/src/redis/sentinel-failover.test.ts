// A Redis Sentinel failover under load, with real processes (a master, a
// replica, three sentinels; see startRedisSentinel): two nodes that reach
// Redis through the sentinels answer STORE_UNAVAILABLE (never anything else)
// while the master is dead and the sentinels promote the replica, then
// recover by themselves: a session written before the failover is found,
// live events (the event log's and the store's cross-node `deleted`) are
// delivered again. MORGAN_TIMELINE=1 prints how long each step took.
import { type RedisTestSentinel, startRedisSentinel } from '@morgan/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MorganError } from '../errors.js';
import type { SessionEvent } from '../events/event-log.js';
import type { SessionEndedEvent } from '../manager/events.js';
import { SessionManager } from '../manager.js';
import { RedisEventLog } from './event-log.js';
import { RedisStore } from './redis-store.js';

let sentinel: RedisTestSentinel;
beforeAll(async () => {
  sentinel = await startRedisSentinel();
}, 60_000);
afterAll(async () => {
  await sentinel?.stop();
});

const codeOf = (error: unknown) => (error instanceof MorganError ? error.code : String(error));

/** A node whose store and event log reach Redis through `deployment`'s sentinels. */
function sentinelNode(deployment: RedisTestSentinel, nodeId: string, failures: Set<string>) {
  const redis = {
    sentinels: deployment.sentinelsEnv.split(','),
    sentinelName: deployment.masterName,
    keyPrefix: deployment.keyPrefix,
    commandTimeoutMs: 500,
  };
  const manager = new SessionManager({
    store: new RedisStore({ ...redis, nodeId }),
    eventLog: new RedisEventLog(redis),
    createRateLimit: false,
    cleanupIntervalMs: 200,
  });
  // A sweep that meets the dead master reports here: it must be "unavailable" too.
  manager.on('error', (error) => failures.add(`sweep: ${codeOf(error)}`));
  return manager.start();
}

/** Resolves once a session created on `from` is read on `to`; 30 s at most. */
async function recovered(from: SessionManager, to: SessionManager): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const fresh = await from.createSession().catch(() => undefined);
    const seen =
      fresh !== undefined &&
      (await to.getSession(fresh.sessionId).catch(() => undefined)) !== undefined;
    if (seen) return;
    if (Date.now() > deadline) throw new Error('the nodes did not recover within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the master of a Redis Sentinel deployment killed under load', () => {
  it('two nodes answer STORE_UNAVAILABLE meanwhile and recover by themselves, data and live events included', async () => {
    const failures = new Set<string>();
    const node = (nodeId: string) => sentinelNode(sentinel, nodeId, failures);
    const a = node('a');
    const b = node('b');
    // A client of its own for WAIT: how the test knows the replica has every write.
    const admin = new Redis({
      sentinels: [...sentinel.sentinels],
      name: sentinel.masterName,
      maxRetriesPerRequest: 1,
    });
    admin.on('error', () => {});
    const timeline: [string, number][] = [];
    const mark = (step: string) => timeline.push([step, Date.now()]);
    try {
      await Promise.all([a, b].map((m) => (m.store as RedisStore).ready()));

      // Created on A, used on B.
      const kept = await a.createSession({ metadata: { step: 'before' } });
      expect((await b.touch(kept.sessionId))?.metadata).toEqual({ step: 'before' });
      const doomed = await a.createSession();
      // B follows the kept session's events and the sessions ended elsewhere.
      const received: SessionEvent[] = [];
      b.events.subscribe(kept.sessionId, (event) => received.push(event));
      await b.events.readAfter(kept.sessionId);
      const ended: SessionEndedEvent[] = [];
      b.on('deleted', (event) => ended.push(event));
      await a.publish(kept.sessionId, 'before', {});
      await expect.poll(() => received.map((event) => event.type)).toEqual(['before']);

      // Every write so far is on the replica: WAIT acknowledges a later write of its own.
      await admin.set(`${sentinel.keyPrefix}fence`, '1');
      expect(await admin.wait(1, 10_000)).toBe(1);

      let running = true;
      const load = (async () => {
        while (running) {
          await Promise.all([
            a.touch(kept.sessionId),
            b.getSession(kept.sessionId),
            a.createSession(),
          ]).catch((error: unknown) => {
            failures.add(codeOf(error));
          });
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();

      mark('start');
      const old = await sentinel.killMaster('SIGKILL');
      mark('master killed');
      const promoted = await sentinel.waitForFailover(old, 60_000);
      mark('replica promoted by the sentinels');
      expect(promoted).not.toEqual(old);

      // Back by themselves: a session created on each node is read on the other.
      await Promise.all([recovered(a, b), recovered(b, a)]);
      mark('nodes A and B serve again');
      running = false;
      await load;
      // Only "unavailable" while there was no master; no script error, no crash.
      expect(failures).toContain('STORE_UNAVAILABLE');
      expect([...failures].filter((code) => !code.endsWith('STORE_UNAVAILABLE'))).toEqual([]);

      // Written before the failover, so on the promoted replica.
      expect((await b.getSession(kept.sessionId))?.metadata).toEqual({ step: 'before' });
      expect(await a.getSession(doomed.sessionId)).toBeDefined();

      // Live events: B's subscription from before the failover delivers again, once.
      await a.publish(kept.sessionId, 'after', {});
      await expect
        .poll(() => received.filter((event) => event.type === 'after').length, { timeout: 20_000 })
        .toBe(1);
      mark('event log: live event delivered on B');
      // The store's cross-node events: B hears A end a session.
      expect(await a.deleteSession(doomed.sessionId)).toBe(true);
      await expect
        .poll(() => ended.some((event) => event.sessionId === doomed.sessionId), {
          timeout: 20_000,
        })
        .toBe(true);
      expect(ended.find((event) => event.sessionId === doomed.sessionId)?.origin).toBe('remote');
      mark('store: deleted delivered on B');
      expect(received.filter((event) => event.type === 'before')).toHaveLength(1);
    } finally {
      admin.disconnect();
      await Promise.all([a.stop({ drainTimeoutMs: 0 }), b.stop({ drainTimeoutMs: 0 })]);
      if (process.env.MORGAN_TIMELINE === '1') {
        const start = timeline[0]?.[1] ?? 0;
        const lines = timeline.map(([step, at]) => `  +${at - start} ms  ${step}`);
        process.stderr.write(`Sentinel failover timeline:\n${lines.join('\n')}\n`);
      }
    }
  }, 120_000);
});

describe('a failover while the old master lives (SENTINEL FAILOVER)', () => {
  it('nodes leave the demoted master for the promoted one, writes and live events included', async () => {
    await using deployment = await startRedisSentinel();
    const failures = new Set<string>();
    const a = sentinelNode(deployment, 'a', failures);
    const b = sentinelNode(deployment, 'b', failures);
    try {
      await Promise.all([a, b].map((m) => (m.store as RedisStore).ready()));
      const kept = await a.createSession({ metadata: { step: 'before' } });
      const received: SessionEvent[] = [];
      b.events.subscribe(kept.sessionId, (event) => received.push(event));
      await b.events.readAfter(kept.sessionId);
      const ended: SessionEndedEvent[] = [];
      b.on('deleted', (event) => ended.push(event));

      const old = await deployment.failover();
      const promoted = await deployment.waitForFailover(old, 60_000);
      expect(promoted).not.toEqual(old);
      // The old master still answers, as a replica: writes there would be READONLY for good.
      await Promise.all([recovered(a, b), recovered(b, a)]);
      expect([...failures].filter((code) => !code.endsWith('STORE_UNAVAILABLE'))).toEqual([]);
      expect((await a.touch(kept.sessionId))?.metadata).toEqual({ step: 'before' });

      await a.publish(kept.sessionId, 'after', {});
      await expect
        .poll(() => received.filter((event) => event.type === 'after').length, { timeout: 20_000 })
        .toBe(1);
      expect(await a.deleteSession(kept.sessionId)).toBe(true);
      await expect
        .poll(() => ended.some((event) => event.sessionId === kept.sessionId), { timeout: 20_000 })
        .toBe(true);
    } finally {
      await Promise.all([a.stop({ drainTimeoutMs: 0 }), b.stop({ drainTimeoutMs: 0 })]);
    }
  }, 120_000);
});

describe('sentinels beside cluster nodes', () => {
  it('are refused: a Cluster has no sentinels', () => {
    const both = { clusterNodes: ['127.0.0.1:7000'], sentinels: ['127.0.0.1:26379'] };
    for (const make of [() => new RedisStore(both), () => new RedisEventLog(both)]) {
      expect(make).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }
  });
});
