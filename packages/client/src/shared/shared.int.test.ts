import { describe, expect, it } from 'vitest';
import { isGapEvent } from '../events.js';
import { sharedConnection } from '../opt-in/shared.js';
import type { SessionClientOptions } from '../options.js';
import type { SessionEvent } from '../protocol.js';
import { type RecordedClient, recordedClient } from '../testing/client.js';
import { startTestServer, type TestServer } from '../testing/server.js';
import { createMemoryLocks } from './locks.js';
import { sharedChannelName, tabChannelName, tabLockName } from './messages.js';

/** `count` clients of one "browser": the same lock manager, BroadcastChannel from Node. */
function browserTabs(
  server: TestServer,
  count: number,
  options: Partial<SessionClientOptions> = {},
) {
  const locks = createMemoryLocks();
  const tabs: RecordedClient[] = [];
  for (let i = 0; i < count; i += 1) {
    tabs.push(recordedClient(server, { connection: sharedConnection(), locks, ...options }));
  }
  return {
    tabs,
    async [Symbol.asyncDispose]() {
      await Promise.all(tabs.map((tab) => tab.client.close()));
    },
  };
}

function numbers(events: SessionEvent[]): number[] {
  return events
    .filter((event) => !isGapEvent(event))
    .map((event) => (event.data as { n: number }).n);
}

describe('connection: sharedConnection() against a real server', () => {
  it('gives five clients one real socket and five sessions, each with only its own events and calls', async () => {
    await using server = await startTestServer();
    await using browser = browserTabs(server, 5);
    const { tabs } = browser;
    const sessions = await Promise.all(tabs.map((tab) => tab.client.connect()));
    expect(new Set(sessions.map((session) => session.sessionId)).size).toBe(5);
    expect(tabs.map((tab) => tab.client.connectionMode)).toEqual(Array(5).fill('shared'));
    expect(tabs.filter((tab) => tab.client.leading)).toHaveLength(1);
    const received = tabs.map(() => [] as SessionEvent[]);
    tabs.forEach((tab, i) => {
      tab.client.subscribeEvents((event) => received[i]?.push(event));
    });
    await tabs[0]?.until(() => server.channelCount === 5, 'five channels');
    expect(server.socketCount).toBe(1);
    expect(server.sharedSocketCount).toBe(1);
    expect(server.upgrades).toBe(1);
    // Calls go over the socket with each tab's own session.
    const whoami = await Promise.all(tabs.map((tab) => tab.client.trpc.test.whoami.query()));
    expect(whoami).toEqual(sessions.map((session) => session.sessionId));
    expect(server.requests.filter((line) => line.includes('test.whoami'))).toEqual([]);
    for (const [i, session] of sessions.entries()) {
      await server.publish(session.sessionId, 'tick', { n: i });
    }
    await tabs[0]?.until(() => received.every((events) => events.length === 1), 'one event each');
    expect(received.map(numbers)).toEqual([[0], [1], [2], [3], [4]]);
    for (const session of sessions) {
      expect((await server.manager.getSession(session.sessionId))?.connectionCount).toBe(1);
    }
  });

  it('hands over when the leader closes: another client leads, the others reconnect at once, no event is lost', async () => {
    await using server = await startTestServer();
    // A backoff far beyond the wait below: only an immediate reconnect passes.
    await using browser = browserTabs(server, 4, {
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const { tabs } = browser;
    const sessions = await Promise.all(tabs.map((tab) => tab.client.connect()));
    const received = tabs.map(() => [] as SessionEvent[]);
    tabs.forEach((tab, i) => {
      tab.client.subscribeEvents((event) => received[i]?.push(event));
    });
    await tabs[0]?.until(() => server.channelCount === 4, 'four channels');
    for (const [i, session] of sessions.entries())
      await server.publish(session.sessionId, 'tick', { n: i * 10 + 1 });
    await tabs[0]?.until(() => received.every((events) => events.length === 1), 'first events');

    const leaderIndex = tabs.findIndex((tab) => tab.client.leading);
    expect(leaderIndex).toBeGreaterThanOrEqual(0);
    await tabs[leaderIndex]?.client.close();
    // Events sent while the socket changes hands.
    for (const [i, session] of sessions.entries()) {
      if (i !== leaderIndex) await server.publish(session.sessionId, 'tick', { n: i * 10 + 2 });
    }
    const others = tabs.filter((_tab, i) => i !== leaderIndex);
    await others[0]?.until(() => others.some((tab) => tab.client.leading), 'a new leader');
    await others[0]?.until(
      () => server.channelCount === 3 && others.every((tab) => tab.client.state === 'connected'),
      'three channels again',
    );
    expect(server.sharedSocketCount).toBe(1);
    for (const [i, session] of sessions.entries()) {
      if (i !== leaderIndex) await server.publish(session.sessionId, 'tick', { n: i * 10 + 3 });
    }
    const expected = sessions.map((_s, i) =>
      i === leaderIndex ? [i * 10 + 1] : [i * 10 + 1, i * 10 + 2, i * 10 + 3],
    );
    await others[0]?.until(
      () => received.every((events, i) => events.length === (expected[i]?.length ?? 0)),
      'every event',
    );
    expect(received.map(numbers)).toEqual(expected);
    for (const tab of others) {
      expect(tab.log['session-replaced']).toHaveLength(0);
      expect(tab.client.sessionId).toBe(sessions[tabs.indexOf(tab)]?.sessionId);
    }
    // The leader's session is no longer counted; the others' are, once each.
    expect(
      (await server.manager.getSession(sessions[leaderIndex]?.sessionId ?? ''))?.connectionCount,
    ).toBe(0);
  });

  it('falls back to a socket per client where there is no lock manager', async () => {
    await using server = await startTestServer();
    await using a = recordedClient(server, { connection: sharedConnection() });
    await using b = recordedClient(server, { connection: sharedConnection() });
    await Promise.all([a.client.connect(), b.client.connect()]);
    expect(a.client.connectionMode).toBe('per-tab');
    await a.until(() => server.socketCount === 2, 'two sockets');
    expect(server.channelCount).toBe(0);
  });

  it('closes the channel of a client that closes, and the real socket stays for the others', async () => {
    await using server = await startTestServer();
    await using browser = browserTabs(server, 3);
    const { tabs } = browser;
    await Promise.all(tabs.map((tab) => tab.client.connect()));
    await tabs[0]?.until(() => server.channelCount === 3, 'three channels');
    const follower = tabs.find((tab) => !tab.client.leading);
    const { sessionId } = follower?.client.session ?? { sessionId: '' };
    await follower?.client.close({ endSession: true });
    await tabs[0]?.until(() => server.channelCount === 2, 'two channels');
    expect(await server.manager.getSession(sessionId)).toBeUndefined();
    expect(server.sharedSocketCount).toBe(1);
    expect(server.upgrades).toBe(1);
  });

  it('replaces the session of one client whose session was deleted; the others and the socket stay', async () => {
    await using server = await startTestServer();
    await using browser = browserTabs(server, 3);
    const { tabs } = browser;
    const sessions = await Promise.all(tabs.map((tab) => tab.client.connect()));
    await tabs[0]?.until(() => server.channelCount === 3, 'three channels');
    const victim = tabs.findIndex((tab) => !tab.client.leading);
    await server.manager.deleteSession(sessions[victim]?.sessionId ?? '');
    const rec = tabs[victim] as RecordedClient;
    await rec.until(() => rec.log['session-replaced'].length === 1, 'a replaced session');
    await rec.until(
      () => rec.client.state === 'connected' && server.channelCount === 3,
      'connected again',
    );
    expect(rec.client.sessionId).not.toBe(sessions[victim]?.sessionId);
    expect(await rec.client.trpc.test.whoami.query()).toBe(rec.client.sessionId);
    for (const [i, tab] of tabs.entries()) {
      if (i !== victim) expect(tab.log['session-replaced']).toHaveLength(0);
    }
    expect(server.sharedSocketCount).toBe(1);
    expect(server.upgrades).toBe(1);
  });

  it('reconnects every client through a new shared socket after a restart, resuming their events', async () => {
    await using server = await startTestServer();
    await using browser = browserTabs(server, 3);
    const { tabs } = browser;
    const sessions = await Promise.all(tabs.map((tab) => tab.client.connect()));
    const received = tabs.map(() => [] as SessionEvent[]);
    tabs.forEach((tab, i) => {
      tab.client.subscribeEvents((event) => received[i]?.push(event));
    });
    await tabs[0]?.until(() => server.channelCount === 3, 'three channels');
    await server.stop();
    await tabs[0]?.until(() => tabs.every((tab) => tab.client.state === 'reconnecting'), 'lost');
    for (const [i, session] of sessions.entries())
      await server.publish(session.sessionId, 'tick', { n: i });
    await server.listen();
    await tabs[0]?.until(
      () => server.channelCount === 3 && tabs.every((tab) => tab.client.state === 'connected'),
      'connected again',
    );
    await tabs[0]?.until(() => received.every((events) => events.length === 1), 'missed events');
    expect(received.map(numbers)).toEqual([[0], [1], [2]]);
    expect(server.sharedSocketCount).toBe(1);
  });

  it('closes the channels of a tab that went without a word (its lock released), so its session is counted down', async () => {
    await using server = await startTestServer();
    const locks = createMemoryLocks();
    await using leaderTab = recordedClient(server, { connection: sharedConnection(), locks });
    await leaderTab.client.connect();
    await leaderTab.until(() => leaderTab.client.leading && server.channelCount === 1, 'a leader');
    // A tab of the same browser, by hand: it holds its lock, asks the leader for a channel and authenticates.
    const crashed = await server.manager.createSession();
    const name = sharedChannelName(`ws://127.0.0.1:${server.port}/trpc`);
    const tab = 'crashing-tab';
    let release = () => {};
    await new Promise<void>((held) => {
      void locks.request(tabLockName(name, tab), {}, () => {
        held();
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      });
    });
    const upstream = new BroadcastChannel(name);
    const inbox = new BroadcastChannel(tabChannelName(name, tab));
    const opened = new Promise<void>((resolve) => {
      inbox.onmessage = ({ data }) => {
        if ((data as { k: string }).k === 'opened') resolve();
      };
    });
    upstream.postMessage({ k: 'open', v: 'channel-1', tab });
    await opened;
    upstream.postMessage({
      k: 'send',
      v: 'channel-1',
      d: JSON.stringify({ method: 'connectionParams', data: { sessionId: crashed.sessionId } }),
    });
    await leaderTab.until(() => server.channelCount === 2, 'its channel');
    // The tab crashes: its lock is released, nothing else is said.
    release();
    upstream.close();
    inbox.close();
    await leaderTab.until(() => server.channelCount === 1, 'its channel closed');
    expect((await server.manager.getSession(crashed.sessionId))?.connectionCount).toBe(0);
    expect(leaderTab.client.state).toBe('connected');
  });
});
