import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { SessionEvent } from '../events/event-log.js';
import { MemoryEventLog } from '../events/memory-event-log.js';
import { startTcpProxy } from './testing/tcp-proxy.js';
import { closed, connect, startWsServer, type TestRouter, waitUntil } from './testing/ws-server.js';

/** Subscribes to session.events on a raw socket and collects what arrives. */
function subscribe(socket: WebSocket, lastEventId?: string) {
  const events: SessionEvent[] = [];
  const trackedIds: string[] = [];
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as {
      id: number;
      result?: { type: string; id?: string; data?: { json: { id: string; data: SessionEvent } } };
    };
    if (message.id !== 1 || message.result?.type !== 'data') return;
    trackedIds.push(message.result.id ?? '');
    events.push((message.result.data as { json: { data: SessionEvent } }).json.data);
  });
  const params = lastEventId === undefined ? {} : { lastEventId };
  socket.send(
    JSON.stringify({
      id: 1,
      method: 'subscription',
      params: { path: 'session.events', input: {}, ...params },
    }),
  );
  return { events, trackedIds };
}

describe('session.events over WebSocket', () => {
  it('streams buffered then live events with increasing tracked ids, and replays what a reconnecting client missed', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const early = [
      await t.manager.publish(sessionId, 'chat.reply', { n: 1 }),
      await t.manager.publish(sessionId, 'chat.reply', { n: 2 }),
    ];
    const first = await connect(t.url, sessionId);
    const seen = subscribe(first);
    // A first subscription gets what is still buffered.
    await waitUntil(() => seen.events.length === 2);
    const live = await t.manager.publish(sessionId, 'chat.reply', { n: 3 });
    await waitUntil(() => seen.events.length === 3);
    expect(seen.events.map((event) => event.id)).toEqual([...early, live].map((event) => event.id));
    expect(seen.trackedIds).toEqual(seen.events.map((event) => event.id));
    first.close();
    await closed(first);

    const missed = [
      await t.manager.publish(sessionId, 'chat.reply', { n: 4 }),
      await t.manager.publish(sessionId, 'chat.reply', { n: 5 }),
    ];
    const second = await connect(t.url, sessionId);
    const resumed = subscribe(second, live.id);
    await waitUntil(() => resumed.events.length === 2);
    const later = await t.manager.publish(sessionId, 'chat.reply', { n: 6 });
    await waitUntil(() => resumed.events.length === 3);
    expect(resumed.events.map((event) => event.data)).toEqual([{ n: 4 }, { n: 5 }, { n: 6 }]);
    expect(resumed.events.map((event) => event.id)).toEqual(
      [...missed, later].map((event) => event.id),
    );
    second.close();
    await closed(second);
  });

  it('starts with an explicit gap event when the buffer no longer holds what was missed', async () => {
    await using t = await startWsServer({
      manager: { eventLog: new MemoryEventLog({ maxEvents: 2 }) },
    });
    const { sessionId } = await t.manager.createSession();
    const seen = await t.manager.publish(sessionId, 'chat.reply', { n: 1 });
    const published = [];
    for (let n = 2; n <= 5; n += 1)
      published.push(await t.manager.publish(sessionId, 'chat.reply', { n }));
    const socket = await connect(t.url, sessionId);
    const resumed = subscribe(socket, seen.id);
    await waitUntil(() => resumed.events.length === 3);
    expect(resumed.events[0]).toMatchObject({
      type: 'gap',
      data: { lastEventId: seen.id, lostThroughId: published[1]?.id },
    });
    expect(resumed.events.slice(1).map((event) => event.data)).toEqual([{ n: 4 }, { n: 5 }]);
    socket.close();
    await closed(socket);
  });

  it("resumes through tRPC's own client, which sends the last event id again on reconnect", async () => {
    await using t = await startWsServer();
    await using proxy = await startTcpProxy(t.port);
    const { sessionId } = await t.manager.createSession();
    const resumedFrom: (string | undefined)[] = [];
    const readAfter = t.manager.events.readAfter.bind(t.manager.events);
    t.manager.events.readAfter = (id, lastEventId) => {
      resumedFrom.push(lastEventId);
      return readAfter(id, lastEventId);
    };
    let closes = 0;
    const client = createWSClient({
      url: `ws://127.0.0.1:${proxy.port}/trpc`,
      connectionParams: () => ({ sessionId }),
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      retryDelayMs: () => 100,
      onClose: () => {
        closes += 1;
      },
    });
    const trpc = createTRPCClient<TestRouter>({
      links: [wsLink({ client, transformer: superjson })],
    });
    const received: SessionEvent[] = [];
    const subscription = trpc.session.events.subscribe(undefined, {
      onData: ({ data }) => received.push(data),
    });
    await waitUntil(() => resumedFrom.length === 1);
    const e1 = await t.manager.publish(sessionId, 'chat.reply', { n: 1 });
    await waitUntil(() => received.length === 1);

    proxy.cut();
    await waitUntil(() => closes === 1);
    const e2 = await t.manager.publish(sessionId, 'chat.reply', { n: 2 });
    const e3 = await t.manager.publish(sessionId, 'chat.reply', { n: 3 });
    await waitUntil(() => received.length === 3);
    expect(resumedFrom).toEqual([undefined, e1.id]);
    expect(received.map((event) => event.id)).toEqual([e1.id, e2.id, e3.id]);
    subscription.unsubscribe();
    await client.close();
  });

  it('closes a subscribed socket with 4404 when its session is deleted, and lets go of the subscription', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const log = t.manager.events as MemoryEventLog;
    const baseline = t.manager.listenerCount('deleted');
    const socket = await connect(t.url, sessionId);
    subscribe(socket);
    await waitUntil(() => log.subscriberCount === 1);
    // Subscriptions end through the event log, not through manager listeners.
    expect(t.manager.listenerCount('deleted')).toBe(baseline);
    const close = closed(socket);
    await t.manager.deleteSession(sessionId);
    expect((await close).code).toBe(4404);
    expect(log.subscriberCount).toBe(0);
  });

  it('lets go of the subscription when the socket closes', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const log = t.manager.events as MemoryEventLog;
    const sockets = await Promise.all([connect(t.url, sessionId), connect(t.url, sessionId)]);
    for (const socket of sockets) subscribe(socket);
    await waitUntil(() => log.subscriberCount === 2);
    sockets[0]?.terminate();
    await waitUntil(() => log.subscriberCount === 1);
    sockets[1]?.close();
    await waitUntil(() => log.subscriberCount === 0);
  });
});
