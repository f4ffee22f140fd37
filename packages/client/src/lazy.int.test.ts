import { describe, expect, it } from 'vitest';
import { isGapEvent } from './events.js';
import type { SessionClientOptions } from './options.js';
import type { SessionEvent } from './protocol.js';
import { recordedClient } from './testing/client.js';
import { startTestServer, type TestServer } from './testing/server.js';

const lazy = { enabled: true, closeMs: 100 };

/** A lazy client on the WebSocket alone (no SSE fallback to try). */
function lazyClient(server: TestServer, options: Partial<SessionClientOptions> = {}) {
  return recordedClient(server, { lazy, transport: 'websocket', ...options });
}

function ns(events: SessionEvent[]): number[] {
  return events
    .filter((event) => !isGapEvent(event))
    .map((event) => (event.data as { n: number }).n);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lazy: the WebSocket opens on use and closes when idle, against a real server', () => {
  it('opens no socket until first used: a subscription opens it, and it connects the client', async () => {
    await using server = await startTestServer();
    await using rec = lazyClient(server);
    await sleep(50);
    expect(server.upgrades).toBe(0);
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(
      () => rec.client.state === 'connected' && server.socketCount === 1,
      'the socket',
    );
    await server.publish(rec.client.sessionId as string, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'the event');
    expect(server.upgrades).toBe(1);
  });

  it('closes after closeMs idle; the session stays, the client stays connected, heartbeats pause', async () => {
    await using server = await startTestServer();
    await using rec = lazyClient(server, { heartbeatIntervalMs: 1_000 });
    const { sessionId } = await rec.client.connect();
    expect(server.socketCount).toBe(1);
    await rec.until(() => server.socketCount === 0, 'the idle socket closed');
    const beats = rec.log.heartbeat.length;
    await sleep(1_300);
    expect(rec.log.heartbeat.length).toBe(beats);
    expect(rec.client.state).toBe('connected');
    expect(rec.client.sessionId).toBe(sessionId);
    expect(await server.manager.getSession(sessionId)).toBeDefined();
    expect(rec.states).toEqual(['idle', 'connecting', 'connected']);
    expect(rec.log.reconnect).toHaveLength(0);
  });

  it('reopens on the next use with the same session, and heartbeats go on', async () => {
    await using server = await startTestServer();
    await using rec = lazyClient(server, { heartbeatIntervalMs: 1_000 });
    const { sessionId } = await rec.client.connect();
    await rec.until(() => server.socketCount === 0, 'the idle socket closed');
    // A call sent over the socket is a use, as a subscription is.
    const whoami = await rec.client.trpc.test.whoami.query(undefined, {
      context: { morganTransport: 'ws' },
    });
    expect(whoami).toBe(sessionId);
    expect(server.upgrades).toBe(2);
    const beats = rec.log.heartbeat.length;
    const received: SessionEvent[] = [];
    const off = rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.socketCount === 1, 'the socket again');
    await rec.until(() => rec.log.heartbeat.length > beats, 'a heartbeat');
    await server.publish(sessionId, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'the event');
    off();
    await rec.until(() => server.socketCount === 0, 'closed again once idle');
    expect(rec.client.sessionId).toBe(sessionId);
    expect(rec.log['session-replaced']).toHaveLength(0);
  });

  it('keeps the socket open while a subscription runs, and the stream loses nothing', async () => {
    await using server = await startTestServer();
    await using rec = lazyClient(server);
    const { sessionId } = await rec.client.connect();
    const received: SessionEvent[] = [];
    const off = rec.client.subscribeEvents((event) => received.push(event));
    await server.publish(sessionId, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'the first event');
    await sleep(lazy.closeMs * 4);
    expect(server.socketCount).toBe(1);
    expect(server.upgrades).toBe(1);
    await server.publish(sessionId, 'tick', { n: 2 });
    await rec.until(() => received.length === 2, 'the second event');
    expect(ns(received)).toEqual([1, 2]);
    off();
    await rec.until(() => server.socketCount === 0, 'closed once the subscription ended');
  });

  it('leaves no timer or socket behind on close while idle', async () => {
    await using server = await startTestServer();
    const rec = recordedClient(server, { lazy: { enabled: true, closeMs: 60_000 } });
    await rec.client.connect();
    await rec.client.close();
    await rec.until(() => server.socketCount === 0, 'the socket closed');
    expect(rec.client.state).toBe('closed');
  });
});
