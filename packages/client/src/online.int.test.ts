import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { recordedClient } from './testing/client.js';
import { startTestServer } from './testing/server.js';

/** Rewrites the `connectionParams` message, as a broken or hostile client would. */
class TamperedWebSocket extends WebSocket {
  override send(data: unknown, ...rest: unknown[]): void {
    const text = typeof data === 'string' ? data : '';
    const tampered = text.includes('"connectionParams"')
      ? '{"method":"connectionParams","data":{}}'
      : data;
    (super.send as (...args: unknown[]) => void)(tampered, ...rest);
  }
}

describe('browser connectivity and refused sockets, against a real server', () => {
  it('goes offline on `offline`, waits without attempts, and retries at once on `online`', async () => {
    await using server = await startTestServer();
    const network = new EventTarget();
    // A minute-long backoff: only the `online` event can bring it back within the test.
    await using rec = recordedClient(server, {
      onlineEvents: network,
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const { sessionId } = await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');

    network.dispatchEvent(new Event('offline'));
    expect(rec.client.state).toBe('offline');
    await server.stop();
    await server.listen();
    // The socket closed while offline: still offline, the attempt held back.
    await rec.until(() => rec.log.reconnect.length === 1, 'an attempt scheduled');
    expect(rec.client.state).toBe('offline');

    network.dispatchEvent(new Event('online'));
    expect(rec.client.state).toBe('reconnecting');
    await rec.until(() => rec.client.state === 'connected', 'connected again');
    expect(rec.client.sessionId).toBe(sessionId);
    expect(rec.states).toEqual([
      'idle',
      'connecting',
      'connected',
      'offline',
      'reconnecting',
      'connected',
    ]);
  });

  it('goes back to connected on `online` when the socket survived, checking the session at once', async () => {
    await using server = await startTestServer();
    const network = new EventTarget();
    await using rec = recordedClient(server, { onlineEvents: network });
    await rec.client.connect();
    await rec.until(() => rec.log.heartbeat.length === 1, 'the first heartbeat');
    network.dispatchEvent(new Event('offline'));
    network.dispatchEvent(new Event('online'));
    expect(rec.states.slice(-3)).toEqual(['connected', 'offline', 'connected']);
    await rec.until(() => rec.log.heartbeat.length === 2, 'a heartbeat right after coming back');
  });

  it('interrupts a pending backoff on `online` while reconnecting', async () => {
    await using server = await startTestServer();
    const network = new EventTarget();
    await using rec = recordedClient(server, {
      onlineEvents: network,
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');
    await server.cut();
    await rec.until(() => rec.log.reconnect.length >= 1, 'a scheduled attempt');
    await server.listen();
    network.dispatchEvent(new Event('online'));
    await rec.until(() => rec.client.state === 'connected', 'connected without waiting a minute');
  });

  it('stops for good with an error when the server refuses the socket parameters (4400), without a loop', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { WebSocket: TamperedWebSocket });
    await expect(rec.client.connect()).rejects.toMatchObject({
      code: 'SESSION_REJECTED',
      closeCode: 4400,
    });
    expect(rec.client.state).toBe('closed');
    expect(rec.log.error.map(([error]) => error.code)).toEqual(['SESSION_REJECTED']);
    expect(rec.log.state.at(-1)?.[0]).toMatchObject({
      status: 'closed',
      error: { closeCode: 4400 },
    });
    const requestsAfter = server.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(rec.log.reconnect).toHaveLength(0);
    expect(server.requests.length).toBe(requestsAfter);
  });

  it('does not reconnect after close()', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    await rec.client.connect();
    await rec.client.close();
    await server.restart();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(rec.log.reconnect).toHaveLength(0);
    expect(server.socketCount).toBe(0);
    expect(rec.states).toEqual(['idle', 'connecting', 'connected', 'closed']);
  });

  it('closes from idle, and from reconnecting, ending pending connects', async () => {
    await using server = await startTestServer();
    const idle = recordedClient(server);
    await idle.client.close();
    expect(idle.states).toEqual(['idle', 'closed']);

    await server.cut();
    const waiting = recordedClient(server);
    const connecting = waiting.client.connect();
    await waiting.until(() => waiting.client.state === 'reconnecting', 'reconnecting');
    await waiting.client.close();
    await expect(connecting).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(waiting.states.at(-1)).toBe('closed');
  });
});
