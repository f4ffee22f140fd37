import { describe, expect, it } from 'vitest';
import { isGapEvent } from './events.js';
import { sseTransport } from './opt-in/sse.js';
import type { SessionEvent } from './protocol.js';
import { recordedClient } from './testing/client.js';
import { startTestServer } from './testing/server.js';

function ns(events: SessionEvent[]): number[] {
  return events
    .filter((event) => !isGapEvent(event))
    .map((event) => (event.data as { n: number }).n);
}

describe("transport: sseTransport('sse') against a real server", () => {
  it('connects without a socket, receives events, and resumes from the last id after the server cuts the stream', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { transport: sseTransport('sse'), noWebSocket: true });
    const { sessionId } = await rec.client.connect();
    expect(rec.client.transport).toBe('sse');
    expect(rec.states).toEqual(['idle', 'connecting', 'connected']);
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.streamCount === 1, 'the stream');
    for (const n of [1, 2, 3]) await server.publish(sessionId, 'tick', { n });
    await rec.until(() => received.length === 3, 'three live events');

    server.cutStreams();
    await rec.until(() => rec.client.state === 'reconnecting', 'reconnecting');
    for (const n of [4, 5]) await server.publish(sessionId, 'tick', { n });
    await rec.until(() => rec.client.state === 'connected', 'connected again');
    await server.publish(sessionId, 'tick', { n: 6 });
    await rec.until(() => received.length === 6, 'all six events');

    expect(ns(received)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(received.some(isGapEvent)).toBe(false);
    expect(server.socketCount).toBe(0);
    expect(server.upgrades).toBe(0);
    expect(rec.client.sessionId).toBe(sessionId);
    expect(rec.states.slice(0, 4)).toEqual(['idle', 'connecting', 'connected', 'reconnecting']);
    expect(rec.log.transport).toHaveLength(0);
    // The stream carried the session in its header, never in the URL.
    const streams = server.requests.filter((request) => request.includes('session.events'));
    expect(streams.length).toBeGreaterThanOrEqual(2);
  });

  it('resumes the same session after a restart that keeps sessions, and replaces one the restart lost (with a gap)', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { transport: sseTransport('sse') });
    const { sessionId } = await rec.client.connect();
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.streamCount === 1, 'the stream');
    await server.publish(sessionId, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'a live event');

    await server.stop();
    await rec.until(() => rec.client.state === 'reconnecting', 'reconnecting');
    await server.publish(sessionId, 'tick', { n: 2 });
    await server.listen();
    await rec.until(() => ns(received).includes(2), 'the event missed while down');
    expect(rec.client.state).toBe('connected');
    expect(rec.client.sessionId).toBe(sessionId);

    await server.restart({ freshManager: true });
    await rec.until(() => rec.log['session-replaced'].length === 1, 'the replacement');
    await rec.until(() => rec.log.gap.length === 1, 'the gap');
    const newId = rec.client.sessionId ?? '';
    expect(newId).not.toBe(sessionId);
    await rec.until(() => server.streamCount === 1, 'the new stream');
    await server.publish(newId, 'tick', { n: 3 });
    await rec.until(() => ns(received).includes(3), 'an event of the new session');
    expect(received.map((event) => event.type)).toEqual(['tick', 'tick', 'gap', 'tick']);
    expect(server.upgrades).toBe(0);
  });

  it('follows a rotation over SSE without losing or repeating an event', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { transport: sseTransport('sse') });
    const { sessionId } = await rec.client.connect();
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.streamCount === 1, 'the stream');
    await server.publish(sessionId, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'a live event');

    const response = await rec.client.fetch('/api/rotate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ before: [2, 3], after: [4, 5] }),
    });
    const { sessionId: rotated } = (await response.json()) as { sessionId: string };
    expect(rec.client.sessionId).toBe(rotated);
    await rec.until(() => received.length === 5, 'the events around the rotation');
    await server.publish(rotated, 'tick', { n: 6 });
    await rec.until(() => received.length === 6, 'an event after the rotation');
    expect(ns(received)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rec.log['session-rotated']).toHaveLength(1);
    expect(rec.client.state).toBe('connected');
  });

  it('a subscription before connect() connects the client, as over the socket', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { transport: sseTransport('sse') });
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => rec.client.state === 'connected', 'connected');
    await rec.until(() => server.streamCount === 1, 'the stream');
    await server.publish(rec.client.sessionId ?? '', 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'an event');
    // Connected for real: heartbeats run.
    await rec.until(() => rec.log.heartbeat.length >= 1, 'a heartbeat');
    expect(rec.states).toEqual(['idle', 'connecting', 'connected']);
  });

  it('goes offline and back over SSE, with and without an open event stream', async () => {
    await using server = await startTestServer();
    const network = new EventTarget();
    await using rec = recordedClient(server, {
      transport: sseTransport('sse'),
      onlineEvents: network,
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    await rec.client.connect();
    // No stream: the session is confirmed over HTTP again.
    network.dispatchEvent(new Event('offline'));
    network.dispatchEvent(new Event('online'));
    await rec.until(() => rec.client.state === 'connected', 'connected again');
    expect(rec.states).toEqual([
      'idle',
      'connecting',
      'connected',
      'offline',
      'reconnecting',
      'connected',
    ]);

    // With a stream that the server cut while offline: `online` retries it at
    // once, not after the minute-long backoff.
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    // An event through it proves the client reads the stream (the server
    // counts a stream before its answer reaches the client).
    await rec.until(() => server.streamCount === 1, 'the stream');
    await server.publish(rec.client.sessionId ?? '', 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'the first event');
    network.dispatchEvent(new Event('offline'));
    server.cutStreams();
    await rec.until(() => rec.log.reconnect.length >= 1, 'an attempt held back');
    expect(rec.client.state).toBe('offline');
    await server.publish(rec.client.sessionId ?? '', 'tick', { n: 2 });
    network.dispatchEvent(new Event('online'));
    await rec.until(() => received.length === 2, 'the event missed while offline');
    expect(received.map((event) => event.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(rec.client.state).toBe('connected');
  });

  it("completes the app's own subscriptions over SSE when the client closes, leaving no stream open", async () => {
    await using server = await startTestServer();
    const rec = recordedClient(server, { transport: sseTransport('sse') });
    await rec.client.connect();
    let completed = 0;
    let started = 0;
    rec.client.trpc.session.events.subscribe(undefined, {
      onStarted: () => {
        started += 1;
      },
      onComplete: () => {
        completed += 1;
      },
    });
    await rec.until(() => started === 1 && server.streamCount === 1, 'the stream');
    await rec.client.close();
    await rec.until(() => completed === 1, 'the completion');
    await rec.until(() => server.streamCount === 0, 'no stream at the server');
  });

  it('honours Retry-After of a refused stream and connects once the server takes it', async () => {
    await using server = await startTestServer({ manager: { maxStreamsPerSession: 1 } });
    await using rec = recordedClient(server, { transport: sseTransport('sse') });
    const { sessionId } = await rec.client.connect();
    // Another stream of the same session takes the session's only place.
    const abort = new AbortController();
    const other = await fetch(`${server.url}/trpc/session.events`, {
      headers: { accept: 'text/event-stream', 'x-session-id': sessionId },
      signal: abort.signal,
    });
    expect(other.status).toBe(200);
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => rec.log.reconnect.length >= 1, 'a refused attempt');
    const refusedAt = performance.now();
    abort.abort();
    await rec.until(
      () => server.streamCount === 1 && rec.client.lastEventId === undefined,
      'the stream',
    );
    await server.publish(sessionId, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'an event');
    // The 429 said Retry-After: 1 (s); the backoff alone is at most 200 ms.
    const stream = server.requestTimes.filter(
      (_, i) => server.requests[i] === 'GET /trpc/session.events',
    );
    const gaps = stream.slice(1).map((at, i) => at - (stream[i] ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...gaps.slice(1))).toBeGreaterThanOrEqual(900);
    expect(refusedAt).toBeGreaterThan(0);
  });
});

describe("transport: 'auto' against a real server", () => {
  const fallback = { failures: 2, timeoutMs: 5_000, retryWebSocketMs: 200 };

  it('falls back to SSE when upgrades are refused, and moves back to the WebSocket once they pass, without losing or repeating an event', async () => {
    await using server = await startTestServer();
    server.refuseUpgrades = true;
    await using rec = recordedClient(server, { transportFallback: fallback });
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    const { sessionId } = await rec.client.connect();
    expect(rec.client.transport).toBe('sse');
    expect(rec.log.transport.map(([event]) => event)).toEqual([
      { transport: 'sse', previous: 'websocket', reason: 'websocket-refused' },
    ]);
    expect(server.upgrades).toBeGreaterThanOrEqual(2);
    await rec.until(() => server.streamCount === 1, 'the SSE stream');
    for (const n of [1, 2]) await server.publish(sessionId, 'tick', { n });
    await rec.until(() => received.length === 2, 'events over SSE');
    // Trials keep failing while upgrades are refused; the client stays connected over SSE.
    const refusedTrials = server.upgrades;
    await rec.until(() => server.upgrades >= refusedTrials + 2, 'two more refused trials');
    expect(rec.client.state).toBe('connected');
    expect(server.socketCount).toBe(0);

    server.refuseUpgrades = false;
    await rec.until(() => rec.client.transport === 'websocket', 'back on the WebSocket');
    await rec.until(() => server.socketCount === 1 && server.streamCount === 0, 'the socket alone');
    for (const n of [3, 4]) await server.publish(sessionId, 'tick', { n });
    await rec.until(() => received.length === 4, 'events over the WebSocket');
    expect(ns(received)).toEqual([1, 2, 3, 4]);
    expect(received.some(isGapEvent)).toBe(false);
    expect(rec.log.transport.at(-1)?.[0]).toEqual({
      transport: 'websocket',
      previous: 'sse',
      reason: 'websocket-restored',
    });
    expect(rec.client.sessionId).toBe(sessionId);
    // Connected once over SSE, and never left since: neither the refused
    // trials nor the move back are reconnects.
    expect(rec.states.slice(0, 2)).toEqual(['idle', 'connecting']);
    expect(rec.states.filter((state) => state === 'connected')).toHaveLength(1);
    expect(rec.states.at(-1)).toBe('connected');
  });

  it('moves the stream to the WebSocket while events are being published, none lost or repeated', async () => {
    await using server = await startTestServer();
    server.refuseUpgrades = true;
    await using rec = recordedClient(server, { transportFallback: fallback });
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    const { sessionId } = await rec.client.connect();
    await rec.until(() => server.streamCount === 1, 'the SSE stream');
    server.refuseUpgrades = false;
    let n = 0;
    while (rec.client.transport === 'sse') {
      n += 1;
      await server.publish(sessionId, 'tick', { n });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (let i = 0; i < 5; i += 1) {
      n += 1;
      await server.publish(sessionId, 'tick', { n });
    }
    await rec.until(() => received.length === n, `all ${n} events`);
    expect(ns(received)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });

  it('stays on the WebSocket when the whole server is down (HTTP too), and connects over it when it is back', async () => {
    await using server = await startTestServer();
    await server.cut();
    await using rec = recordedClient(server, {
      transportFallback: { ...fallback, timeoutMs: 300 },
    });
    const connected = rec.client.connect();
    await rec.until(() => rec.log.reconnect.length >= 5, 'five attempts');
    expect(rec.client.transport).toBe('websocket');
    await server.listen();
    await connected;
    expect(rec.client.transport).toBe('websocket');
    await rec.until(() => server.socketCount === 1, 'the socket');
    expect(rec.log.transport).toHaveLength(0);
  });

  it('falls back to SSE when the upgrade hangs (never answered) for timeoutMs while HTTP works', async () => {
    await using server = await startTestServer();
    server.holdUpgrades = true;
    await using rec = recordedClient(server, {
      transportFallback: { ...fallback, timeoutMs: 300, retryWebSocketMs: 60_000 },
    });
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    const { sessionId } = await rec.client.connect();
    expect(rec.client.transport).toBe('sse');
    expect(server.upgrades).toBe(1);
    await rec.until(() => server.streamCount === 1, 'the SSE stream');
    await server.publish(sessionId, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'an event over SSE');
  });

  it('uses SSE at once when there is no WebSocket implementation', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { noWebSocket: true });
    await rec.client.connect();
    expect(rec.client.transport).toBe('sse');
    expect(server.upgrades).toBe(0);
  });
});
