import { describe, expect, it } from 'vitest';
import { backoffCeiling } from './backoff.js';
import { isGapEvent } from './events.js';
import type { SessionEvent } from './protocol.js';
import { recordedClient } from './testing/client.js';
import { startTestServer } from './testing/server.js';

const fast = { baseDelayMs: 20, maxDelayMs: 200, factor: 2 };

function ids(events: SessionEvent[]): string[] {
  return events
    .filter((event) => !isGapEvent(event))
    .map((event) => String((event.data as { n: number }).n));
}

describe('reconnects against a real server', () => {
  it('reconnects after a restart that keeps sessions (1001) and resumes the event stream without loss', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { reconnect: fast });
    const { sessionId } = await rec.client.connect();
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.socketCount === 1, 'the socket');
    for (const n of [1, 2, 3]) await server.publish(sessionId, 'tick', { n });
    await rec.until(() => received.length === 3, 'three live events');

    await server.stop();
    await rec.until(() => rec.client.state === 'reconnecting', 'reconnecting');
    for (const n of [4, 5, 6]) await server.publish(sessionId, 'tick', { n });
    await server.listen();
    await rec.until(() => rec.client.state === 'connected', 'connected again');
    for (const n of [7, 8]) await server.publish(sessionId, 'tick', { n });
    await rec.until(() => received.length === 8, 'all eight events');

    expect(rec.client.sessionId).toBe(sessionId);
    expect(ids(received)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
    expect(received.some(isGapEvent)).toBe(false);
    expect(rec.log['session-replaced']).toHaveLength(0);
    expect(rec.states.slice(0, 4)).toEqual(['idle', 'connecting', 'connected', 'reconnecting']);
    expect(rec.states.at(-1)).toBe('connected');
    const [firstClose] = rec.log.state.find(([state]) => state.status === 'reconnecting') ?? [];
    expect(firstClose).toMatchObject({ status: 'reconnecting', error: { closeCode: 1001 } });
    expect(rec.log.event.length).toBe(8);
  });

  it('gets a new session and announces it when the restarted server lost it, and reports the gap', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { reconnect: fast });
    const { sessionId } = await rec.client.connect();
    const received: SessionEvent[] = [];
    rec.client.subscribeEvents((event) => received.push(event));
    await rec.until(() => server.socketCount === 1, 'the socket');
    await server.publish(sessionId, 'tick', { n: 1 });
    await rec.until(() => received.length === 1, 'a live event');

    await server.restart({ freshManager: true });
    await rec.until(
      () => rec.log['session-replaced'].length === 1 && rec.client.state === 'connected',
      'replacement',
    );
    const [replaced] = rec.log['session-replaced'][0] ?? [];
    expect(replaced).toEqual({
      previousSessionId: sessionId,
      sessionId: rec.client.sessionId,
      reason: 'not-found',
    });
    expect(await server.manager.getSession(rec.client.sessionId ?? '')).toBeDefined();

    await rec.until(() => rec.log.gap.length === 1, 'the gap event');
    const newId = rec.client.sessionId ?? '';
    await rec.until(() => server.socketCount === 1, 'the new socket');
    await server.publish(newId, 'tick', { n: 2 });
    await rec.until(() => ids(received).includes('2'), 'an event of the new session');
    expect(received.map((event) => event.type)).toEqual(['tick', 'gap', 'tick']);
  });

  it('replaces a session deleted on the server (socket closed 4404)', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { reconnect: fast });
    const { sessionId } = await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');
    await server.manager.deleteSession(sessionId);
    await rec.until(
      () => rec.log['session-replaced'].length === 1 && rec.client.state === 'connected',
      'replacement',
    );
    const lost = rec.log.state.find(([state]) => state.status === 'reconnecting')?.[0];
    expect(lost).toMatchObject({ error: { code: 'SESSION_NOT_FOUND', closeCode: 4404 } });
    expect(rec.client.sessionId).not.toBe(sessionId);
    await rec.until(() => server.socketCount === 1, 'the new socket');
    expect((await server.manager.getSession(rec.client.sessionId ?? ''))?.connectionCount).toBe(1);
  });

  it('backs off with full jitter, capped, while the network path is cut, then resumes the same session', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { reconnect: fast });
    const { sessionId } = await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');

    await server.cut();
    await rec.until(() => rec.log.reconnect.length >= 10, 'ten scheduled attempts');
    const attempts = rec.log.reconnect.slice(0, 10).map(([event]) => event);
    expect(attempts.map((event) => event.attempt)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const { attempt, delayMs } of attempts) {
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThan(backoffCeiling(attempt, fast));
      expect(delayMs).toBeLessThanOrEqual(fast.maxDelayMs);
    }
    // Randomized: not every delay sits at its window's top, and they differ.
    expect(new Set(attempts.map((event) => event.delayMs)).size).toBeGreaterThan(3);
    expect(rec.states.filter((status) => status === 'reconnecting').length).toBeGreaterThanOrEqual(
      10,
    );

    await server.listen();
    await rec.until(() => rec.client.state === 'connected', 'connected again');
    expect(rec.client.sessionId).toBe(sessionId);
    expect(rec.log['session-replaced']).toHaveLength(0);
    const afterReconnect = rec.log.reconnect.length;
    await rec.until(() => server.socketCount === 1, 'the socket again');
    expect(rec.log.reconnect.length).toBe(afterReconnect);
  });

  it('starts with backoff when the server is down at connect, then connects (connecting → reconnecting → connected)', async () => {
    await using server = await startTestServer();
    await server.cut();
    await using rec = recordedClient(server, { reconnect: fast });
    const connected = rec.client.connect();
    await rec.until(() => rec.log.reconnect.length >= 2, 'two attempts');
    expect(rec.states.slice(0, 3)).toEqual(['idle', 'connecting', 'reconnecting']);
    await server.listen();
    const session = await connected;
    expect(rec.client.state).toBe('connected');
    expect(await server.manager.getSession(session.sessionId)).toBeDefined();
  });
});
