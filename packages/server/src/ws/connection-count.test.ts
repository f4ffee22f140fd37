import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { call, closed, connect, Latch, startWsServer, waitUntil } from './testing/ws-server.js';

describe('connectionCount over WebSocket', () => {
  it('follows open sockets exactly: several, closed, terminated and cut mid-lookup', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const other = await t.manager.createSession();
    const count = async (id = sessionId) => (await t.manager.getSession(id))?.connectionCount;

    const sockets = await Promise.all([1, 2, 3].map(() => connect(t.url, sessionId)));
    const otherSocket = await connect(t.url, other.sessionId);
    await waitUntil(() => t.ws.connectionCount === 4);
    expect(await count()).toBe(3);
    expect(await count(other.sessionId)).toBe(1);
    expect(t.ws.socketCount(sessionId)).toBe(3);

    const [first, second, third] = sockets;
    first?.close(1000);
    await waitUntil(async () => (await count()) === 2);

    // No close frame: the TCP connection just ends.
    second?.terminate();
    await waitUntil(async () => (await count()) === 1);

    third?.close();
    otherSocket.close();
    await Promise.all([closed(third!), closed(otherSocket)]);
    await waitUntil(async () => (await count()) === 0 && (await count(other.sessionId)) === 0);
    expect(t.ws.connectionCount).toBe(0);
  });

  it('counts a socket that closed while it was being counted back down, once', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const store = t.manager.store;
    const addConnection = store.addConnection.bind(store);
    const removeConnection = store.removeConnection.bind(store);
    const gate = new Latch();
    let adds = 0;
    let removes = 0;
    store.addConnection = async (id, now) => {
      adds += 1;
      await gate.opened;
      return addConnection(id, now);
    };
    store.removeConnection = async (id, now) => {
      removes += 1;
      return removeConnection(id, now);
    };
    // The server's end of the TCP connection, to know when the server has seen the close.
    const serverSideClosed = new Promise<void>((resolve) => {
      t.server.once('upgrade', (_req, raw: Duplex) => raw.once('close', () => resolve()));
    });
    const socket = await connect(t.url, sessionId);
    await waitUntil(() => adds === 1);
    socket.terminate();
    await closed(socket);
    await serverSideClosed;
    // ws emits its close a few ticks after the TCP close; let those run.
    await new Promise((resolve) => setImmediate(resolve));
    expect(removes).toBe(0);
    gate.open();
    await waitUntil(() => removes === 1);
    expect((await t.manager.getSession(sessionId))?.connectionCount).toBe(0);
    // Nothing else releases it later.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(removes).toBe(1);
    expect(t.ws.connectionCount).toBe(0);
  });

  it('keeps the count exact under many concurrent connects and disconnects', async () => {
    await using t = await startWsServer({ ws: { maxSocketsPerSession: 100 } });
    const { sessionId } = await t.manager.createSession();
    const sockets = await Promise.all(Array.from({ length: 40 }, () => connect(t.url, sessionId)));
    await waitUntil(() => t.ws.connectionCount === 40);
    expect((await t.manager.getSession(sessionId))?.connectionCount).toBe(40);
    for (const [index, socket] of sockets.entries()) {
      if (index % 2 === 0) socket.terminate();
      else socket.close();
    }
    await waitUntil(async () => (await t.manager.getSession(sessionId))?.connectionCount === 0);
    expect(t.ws.connectionCount).toBe(0);
  });

  it('tracks each call as a request of the session while it runs', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const latch = new Latch();
    t.latches.set('held', latch);
    const answer = call(socket, 1, 'mutation', 'test.slow', 'held');
    await waitUntil(() => t.slowStarted.includes('held'));
    expect((await t.manager.getSession(sessionId))?.activeRequests).toHaveLength(1);
    latch.open();
    expect((await answer).result).toMatchObject({ data: { json: 'held' } });
    await waitUntil(
      async () => (await t.manager.getSession(sessionId))?.activeRequests.length === 0,
    );
    socket.close();
    await closed(socket);
  });

  it('touches lastActivity on messages (touchIntervalMs: 0)', async () => {
    let now = 1_700_000_000_000;
    await using t = await startWsServer({
      manager: { now: () => now },
      ws: { touchIntervalMs: 0 },
    });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    await waitUntil(() => t.ws.connectionCount === 1);
    now += 60_000;
    socket.send('PING');
    await waitUntil(
      async () => (await t.manager.getSession(sessionId))?.lastActivity.getTime() === now,
    );
    socket.close();
    await closed(socket);
  });
});
