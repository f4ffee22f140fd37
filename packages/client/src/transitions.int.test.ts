import { describe, expect, it } from 'vitest';
import { SessionClient } from './client.js';
import { sseTransport } from './opt-in/sse.js';
import { recordedClient } from './testing/client.js';
import { startTestServer } from './testing/server.js';

// The remaining state transitions, each driven through a real server; the
// others are covered in the reconnect, online and session tests.
describe('connection state transitions against a real server', () => {
  it('connecting → offline → connected: a socket that opens anyway wins over the browser signal', async () => {
    await using server = await startTestServer();
    const network = new EventTarget();
    await using rec = recordedClient(server, { onlineEvents: network });
    const connected = rec.client.connect();
    network.dispatchEvent(new Event('offline'));
    expect(rec.client.state).toBe('offline');
    await connected;
    expect(rec.states).toEqual(['idle', 'connecting', 'offline', 'connected']);
  });

  it('connecting → offline → reconnecting → connected while the server is down at first', async () => {
    await using server = await startTestServer();
    await server.cut();
    const network = new EventTarget();
    await using rec = recordedClient(server, {
      onlineEvents: network,
      reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const connected = rec.client.connect();
    network.dispatchEvent(new Event('offline'));
    await rec.until(() => rec.log.reconnect.length === 1, 'an attempt held back');
    expect(rec.client.state).toBe('offline');
    await server.listen();
    network.dispatchEvent(new Event('online'));
    await connected;
    expect(rec.states).toEqual(['idle', 'connecting', 'offline', 'reconnecting', 'connected']);
  });

  it('connecting → closed: close() during the first connect rejects it and opens nothing', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const connected = rec.client.connect();
    await rec.client.close();
    await expect(connected).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(rec.states).toEqual(['idle', 'connecting', 'closed']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.socketCount).toBe(0);
  });

  it('reconnecting → offline → closed', async () => {
    await using server = await startTestServer();
    const network = new EventTarget();
    await using rec = recordedClient(server, { onlineEvents: network });
    await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');
    await server.cut();
    await rec.until(() => rec.client.state === 'reconnecting', 'reconnecting');
    network.dispatchEvent(new Event('offline'));
    await rec.client.close();
    expect(rec.states.slice(-3)).toEqual(['reconnecting', 'offline', 'closed']);
  });

  it('reconnecting → closed with RECONNECT_FAILED after reconnect.maxAttempts failures in a row', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, { reconnect: { maxAttempts: 3 } });
    await rec.client.connect();
    await rec.until(() => server.socketCount === 1, 'the socket');
    await server.cut();
    await rec.until(() => rec.client.state === 'closed', 'giving up');
    expect(rec.log.reconnect.map(([event]) => event.attempt)).toEqual([0, 1, 2]);
    expect(rec.log.error.map(([error]) => error.code)).toEqual(['RECONNECT_FAILED']);
    expect(rec.log.state.at(-1)?.[0]).toMatchObject({
      status: 'closed',
      error: { code: 'RECONNECT_FAILED' },
    });
  });

  it('reports a missing WebSocket implementation (Node 20 without `ws`) by default (the WebSocket only) instead of connecting', async () => {
    await using server = await startTestServer();
    const client = new SessionClient({ url: server.url, storage: 'memory' });
    await expect(client.connect()).rejects.toThrow(/WebSocket/);
    expect(client.state).toBe('idle');
    await client.close();
  });

  it("connects over SSE without a WebSocket implementation with sseTransport() ('auto')", async () => {
    await using server = await startTestServer();
    const client = new SessionClient({
      url: server.url,
      storage: 'memory',
      transport: sseTransport(),
    });
    await client.connect();
    expect(client.state).toBe('connected');
    expect(client.transport).toBe('sse');
    expect(server.upgrades).toBe(0);
    await client.close();
  });
});
