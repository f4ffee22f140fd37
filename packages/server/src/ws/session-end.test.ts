import { describe, expect, it } from 'vitest';
import { BusStore } from '../testing/bus-store.js';
import { call, closed, connect, startWsServer, waitUntil } from './testing/ws-server.js';

describe('sockets of a session that ends', () => {
  it('close with 4404 when the session is deleted on this node, and only that session’s', async () => {
    await using t = await startWsServer();
    const doomed = await t.manager.createSession();
    const kept = await t.manager.createSession();
    const sockets = await Promise.all([
      connect(t.url, doomed.sessionId),
      connect(t.url, doomed.sessionId),
    ]);
    const keptSocket = await connect(t.url, kept.sessionId);
    await waitUntil(() => t.ws.connectionCount === 3);
    const closes = sockets.map(closed);
    await t.manager.deleteSession(doomed.sessionId);
    for (const close of await Promise.all(closes)) {
      expect(close).toEqual({ code: 4404, reason: 'SESSION_NOT_FOUND' });
    }
    expect(keptSocket.readyState).toBe(keptSocket.OPEN);
    await waitUntil(() => t.ws.connectionCount === 1);
    keptSocket.close();
    await closed(keptSocket);
  });

  it('answers a session.delete sent over the socket before closing it with 4404', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const close = closed(socket);
    const answer = await call(socket, 1, 'mutation', 'session.delete', null);
    expect(answer.result).toMatchObject({ data: { json: { deleted: true } } });
    expect((await close).code).toBe(4404);
  });

  it.each(['deleted', 'expired'] as const)(
    'close with 4404 when the session is %s on another node',
    async (type) => {
      const store = new BusStore();
      await using t = await startWsServer({ manager: { store } });
      const { sessionId } = await t.manager.createSession();
      const socket = await connect(t.url, sessionId);
      await waitUntil(() => t.ws.connectionCount === 1);
      const close = closed(socket);
      store.announce({ type, sessionId });
      expect((await close).code).toBe(4404);
    },
  );

  it('close with 4404 at the next activity when the session went without a notice', async () => {
    // As when the node's pub/sub connection was down while another node deleted it.
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    await waitUntil(() => t.ws.connectionCount === 1);
    const close = closed(socket);
    await t.manager.store.delete(sessionId); // behind the manager's back: no 'deleted' event
    socket.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'session.get' } }));
    expect((await close).code).toBe(4404);
  });

  it('close with 4404 when the session expires in a sweep', async () => {
    let now = 1_700_000_000_000;
    await using t = await startWsServer({ manager: { now: () => now, sessionTimeoutMs: 1_000 } });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    await waitUntil(() => t.ws.connectionCount === 1);
    // An open socket pins the session, so expire it through the store's record as a crashed
    // node would leave it: count the connection down behind the layer's back.
    await t.manager.store.removeConnection(sessionId, now);
    now += 5_000;
    const close = closed(socket);
    expect(await t.manager.cleanup()).toBe(1);
    expect((await close).code).toBe(4404);
  });
});
