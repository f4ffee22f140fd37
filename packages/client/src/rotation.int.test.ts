import { createTRPCClient } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { isRotatedEvent } from './events.js';
import { SESSION_HEADER, type SessionEvent } from './protocol.js';
import { createMemoryStorage } from './storage.js';
import { recordedClient } from './testing/client.js';
import { startTestServer, type TestRouter, type TestServer } from './testing/server.js';

/** The `n` of each `tick` event, in the order received. */
function ticks(events: SessionEvent[]): number[] {
  return events.map((event) => (event.data as { n: number }).n);
}

/** How the server answers a request that carries `sessionId`. */
async function statusFor(server: TestServer, sessionId: string): Promise<number> {
  const response = await fetch(`${server.url}/api/whoami`, {
    headers: { [SESSION_HEADER]: sessionId },
  });
  await response.body?.cancel();
  return response.status;
}

describe('session rotation against a real server', () => {
  it('follows a rotation announced by the X-Session-Id header of a client.fetch answer', async () => {
    await using server = await startTestServer();
    const storage = createMemoryStorage();
    await using rec = recordedClient(server, { storage });
    const { sessionId: previous } = await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');
    const upgrades = server.upgrades;

    const response = await rec.client.fetch('/api/rotate', { method: 'POST' });
    const { sessionId } = (await response.json()) as { sessionId: string };
    expect(response.headers.get(SESSION_HEADER)).toBe(sessionId);

    expect(sessionId).not.toBe(previous);
    expect(rec.log['session-rotated']).toEqual([[{ previousSessionId: previous, sessionId }]]);
    expect(rec.client.sessionId).toBe(sessionId);
    expect(storage.getItem('morgan.sessionId')).toBe(sessionId);
    expect(await statusFor(server, previous)).toBe(404);
    expect(await server.manager.getSession(previous)).toBeUndefined();

    // The next calls carry the new id and succeed.
    expect(await rec.client.trpc.test.whoami.query()).toBe(sessionId);
    expect(await (await rec.client.fetch('/api/whoami')).json()).toEqual({ sessionId });
    await rec.until(
      () => rec.log.session.at(-1)?.[0].sessionId === sessionId,
      'the rotated session to be reported',
    );
    expect(rec.client.session?.sessionId).toBe(sessionId);

    // The socket was moved by the server, not reopened.
    await expect
      .poll(async () => (await server.manager.getSession(sessionId))?.connectionCount, {
        timeout: 10_000,
      })
      .toBe(1);
    expect(server.upgrades).toBe(upgrades);
    expect(rec.client.state).toBe('connected');
    expect(rec.log['session-replaced']).toHaveLength(0);
    expect(rec.log['session-rotated']).toHaveLength(1);
  });

  it('sends the new id in heartbeats and, after a reconnect, in connectionParams', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { heartbeatIntervalMs: 1_000 });
    await rec.client.connect();
    await rec.until(() => rec.log.heartbeat.length >= 1, 'the first heartbeat');
    const sessionId = await rec.client.trpc.test.rotate.mutate();
    const beats = rec.log.heartbeat.length;
    await rec.until(() => rec.log.heartbeat.length > beats, 'a heartbeat after the rotation');

    await server.restart();
    await rec.until(
      () => rec.states.filter((state) => state === 'connected').length === 2,
      'connected again after the restart',
    );
    expect(rec.client.sessionId).toBe(sessionId);
    expect(await rec.client.trpc.test.whoami.query()).toBe(sessionId);
    expect(
      await rec.client.trpc.test.whoami.query(undefined, { context: { morganTransport: 'ws' } }),
    ).toBe(sessionId);
    expect(rec.log['session-replaced']).toHaveLength(0);
    expect(rec.log['session-rotated']).toHaveLength(1);
  });

  it('follows a rotation by a tRPC mutation over HTTP (the response header)', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const { sessionId: previous } = await rec.client.connect();

    const sessionId = await rec.client.trpc.test.rotate.mutate();

    expect(rec.client.sessionId).toBe(sessionId);
    expect(rec.log['session-rotated']).toEqual([[{ previousSessionId: previous, sessionId }]]);
    expect(await rec.client.trpc.test.whoami.query()).toBe(sessionId);
    expect(await statusFor(server, previous)).toBe(404);
    expect(rec.log['session-replaced']).toHaveLength(0);
  });

  it('follows a rotation by a tRPC mutation over the WebSocket (the event stream’s notice)', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const { sessionId: previous } = await rec.client.connect();
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.socketCount === 1, 'the socket');
    await server.publish(previous, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'a first event');
    const upgrades = server.upgrades;

    const sessionId = await rec.client.trpc.test.rotate.mutate(undefined, {
      context: { morganTransport: 'ws' },
    });
    await rec.until(() => rec.log['session-rotated'].length === 1, 'the rotation');

    expect(rec.log['session-rotated']).toEqual([[{ previousSessionId: previous, sessionId }]]);
    expect(rec.client.sessionId).toBe(sessionId);
    await server.publish(sessionId, 'tick', { n: 2 });
    await rec.until(() => received.length === 2, 'an event of the new session');
    expect(ticks(received)).toEqual([1, 2]);
    expect(received.some(isRotatedEvent)).toBe(false);
    expect(rec.log.event.map(([event]) => event.type)).toEqual(['tick', 'tick']);
    expect(await rec.client.trpc.test.whoami.query()).toBe(sessionId);
    expect(server.upgrades).toBe(upgrades);
    expect(rec.log['session-replaced']).toHaveLength(0);
  });

  it('follows a rotation nobody announced (over the socket, no event stream) by asking its socket', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { userId: 'alice' });
    const { sessionId: previous } = await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');
    const upgrades = server.upgrades;

    const sessionId = await rec.client.trpc.test.rotate.mutate(undefined, {
      context: { morganTransport: 'ws' },
    });
    expect(rec.client.sessionId).toBe(previous);

    // The next call is turned away (404 for the old id); the socket names the new one.
    expect(await rec.client.trpc.test.whoami.query()).toBe(sessionId);
    expect(rec.log['session-rotated']).toEqual([[{ previousSessionId: previous, sessionId }]]);
    expect(rec.log['session-replaced']).toHaveLength(0);
    expect(rec.client.session).toMatchObject({ sessionId, userId: 'alice' });

    // Rotated elsewhere (an admin, another node): plain fetch follows the same way.
    const { sessionId: third } = await server.manager.rotateSession(sessionId);
    const response = await rec.client.fetch('/api/whoami');
    expect(await response.json()).toEqual({ sessionId: third });
    expect(rec.log['session-rotated'].at(-1)).toEqual([
      { previousSessionId: sessionId, sessionId: third },
    ]);
    expect(rec.log['session-replaced']).toHaveLength(0);
    expect(server.upgrades).toBe(upgrades);
    expect((await server.manager.getMetrics()).totalSessionsCreated).toBe(1);
  });

  it('keeps an events subscriber whole across a rotation: none lost, none repeated, same socket', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const { sessionId: previous } = await rec.client.connect();
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.socketCount === 1, 'the socket');
    for (const n of [1, 2, 3]) await server.publish(previous, 'tick', { n });
    await rec.until(() => received.length === 3, 'the old session’s events');
    const upgrades = server.upgrades;

    // Another request (or an admin) rotates; events follow at once, before
    // the client has resubscribed: the new session's buffer keeps them.
    const { sessionId } = await server.manager.rotateSession(previous);
    for (const n of [4, 5, 6]) await server.publish(sessionId, 'tick', { n });
    await rec.until(() => received.length === 6, 'the new session’s first events');
    await server.publish(sessionId, 'tick', { n: 7 });
    await rec.until(() => received.length === 7, 'a live event on the new session');

    expect(ticks(received)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(rec.log['session-rotated']).toEqual([[{ previousSessionId: previous, sessionId }]]);
    expect(rec.client.sessionId).toBe(sessionId);
    expect(rec.client.lastEventId).toBe(received.at(-1)?.id);
    expect(rec.log.event).toHaveLength(7);
    expect(server.upgrades).toBe(upgrades);
    expect(server.socketCount).toBe(1);
    expect(rec.log['session-replaced']).toHaveLength(0);
  });

  it('keeps events published just before a rotation', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const { sessionId: previous } = await rec.client.connect();
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.socketCount === 1, 'the socket');
    await server.publish(previous, 'tick', { n: 0 });
    await rec.until(() => received.length === 1, 'the stream to run');

    for (const n of [1, 2, 3]) await server.publish(previous, 'tick', { n });
    const { sessionId } = await server.manager.rotateSession(previous);
    for (const n of [4, 5, 6]) await server.publish(sessionId, 'tick', { n });
    await rec.until(() => received.length === 7, 'all seven events');

    expect(ticks(received)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('moves the event stream when the rotation is learnt from a response header first', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const { sessionId: previous } = await rec.client.connect();
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.socketCount === 1, 'the socket');
    await server.publish(previous, 'tick', { n: 0 });
    await rec.until(() => received.length === 1, 'the stream to run');
    const upgrades = server.upgrades;

    // One request publishes to the old session, rotates, publishes to the new one.
    const response = await rec.client.fetch('/api/rotate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ before: [1, 2], after: [3, 4] }),
    });
    const { sessionId } = (await response.json()) as { sessionId: string };
    expect(rec.client.sessionId).toBe(sessionId);
    await rec.until(() => received.length === 5, 'all five events');
    await server.publish(sessionId, 'tick', { n: 5 });
    await rec.until(() => received.length === 6, 'a live event on the new session');

    expect(ticks(received)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rec.log['session-rotated']).toEqual([[{ previousSessionId: previous, sessionId }]]);
    expect(server.upgrades).toBe(upgrades);
    expect(rec.log['session-replaced']).toHaveLength(0);
  });

  it('log out everywhere: deleteSessionsByUser closes the socket 4404 and the client gets a new session', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { userId: 'alice' });
    const { sessionId: previous } = await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');

    expect(await server.manager.deleteSessionsByUser('alice')).toBe(1);

    await rec.until(
      () => rec.log['session-replaced'].length === 1 && rec.client.state === 'connected',
      'the replacement',
    );
    const [replaced] = rec.log['session-replaced'][0] ?? [];
    expect(replaced).toMatchObject({ previousSessionId: previous, reason: 'not-found' });
    expect(replaced?.sessionId).toBe(rec.client.sessionId);
    expect(
      rec.log.state.some(
        ([state]) => state.status === 'reconnecting' && state.error?.closeCode === 4404,
      ),
    ).toBe(true);
    expect(rec.log['session-rotated']).toHaveLength(0);
    expect(await rec.client.trpc.test.whoami.query()).toBe(rec.client.sessionId);
  });

  it('client.links() gives a plain tRPC client the session, retries and rotation', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const trpc = createTRPCClient<TestRouter>({ links: rec.client.links() });
    const { sessionId: previous } = await rec.client.connect();

    expect(await trpc.test.whoami.query()).toBe(previous);
    expect(await trpc.test.whoami.query(undefined, { context: { morganTransport: 'ws' } })).toBe(
      previous,
    );
    server.counters.limitedFailures = 1;
    expect(await trpc.test.limited.query()).toBe('ok');

    const sessionId = await trpc.test.rotate.mutate();
    expect(rec.client.sessionId).toBe(sessionId);
    expect(rec.log['session-rotated']).toEqual([[{ previousSessionId: previous, sessionId }]]);
    expect(await trpc.test.whoami.query()).toBe(sessionId);
    expect(await rec.client.trpc.test.whoami.query()).toBe(sessionId);
  });
});
