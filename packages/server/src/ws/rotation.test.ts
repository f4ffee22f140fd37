import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { SessionEvent } from '../events/event-log.js';
import { ROTATED_EVENT_TYPE } from '../protocol.js';
import { BusStore } from '../testing/bus-store.js';
import { call, closed, connect, startWsServer, waitUntil } from './testing/ws-server.js';

/** Subscribes to session.events on a raw socket (call id 1) and collects events and the end. */
function subscribe(socket: WebSocket) {
  const events: SessionEvent[] = [];
  let stopped = false;
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as {
      id: number;
      result?: { type: string; data?: { json: { data: SessionEvent } } };
    };
    if (message.id !== 1) return;
    if (message.result?.type === 'data')
      events.push(message.result.data?.json.data as SessionEvent);
    if (message.result?.type === 'stopped') stopped = true;
  });
  socket.send(
    JSON.stringify({
      id: 1,
      method: 'subscription',
      params: { path: 'session.events', input: {} },
    }),
  );
  return {
    events,
    get stopped() {
      return stopped;
    },
  };
}

describe('a rotated session’s sockets', () => {
  it('stay open, move to the new id, and hear the new id as the last event of the old stream', async () => {
    await using t = await startWsServer();
    const old = await t.manager.createSession({ userId: 'alice', metadata: { a: 1 } });
    const socket = await connect(t.url, old.sessionId);
    const stream = subscribe(socket);
    await waitUntil(() => t.ws.connectionCount === 1);
    const before = await t.manager.publish(old.sessionId, 'chat.reply', { n: 1 });
    await waitUntil(() => stream.events.length === 1);

    const rotated = await t.manager.rotateSession(old.sessionId);
    expect(rotated).toMatchObject({ userId: 'alice', metadata: { a: 1 } });
    expect(rotated.sessionId).not.toBe(old.sessionId);
    expect(await t.manager.getSession(old.sessionId)).toBeUndefined();

    await waitUntil(() => stream.stopped);
    expect(stream.events.map((event) => event.type)).toEqual(['chat.reply', ROTATED_EVENT_TYPE]);
    expect(stream.events[0]?.id).toBe(before.id);
    expect(stream.events[1]?.data).toEqual({ sessionId: rotated.sessionId });

    // The same socket now serves the new session, counted there.
    await waitUntil(
      async () => (await t.manager.getSession(rotated.sessionId))?.connectionCount === 1,
    );
    const answer = await call(socket, 2, 'query', 'session.get', null);
    expect(answer.result).toMatchObject({ data: { json: { sessionId: rotated.sessionId } } });
    expect(socket.readyState).toBe(socket.OPEN);
    expect(t.ws.socketCount(rotated.sessionId)).toBe(1);
    expect(t.ws.socketCount(old.sessionId)).toBe(0);

    // Deleting the new session closes the moved socket.
    const close = closed(socket);
    await t.manager.deleteSession(rotated.sessionId);
    expect((await close).code).toBe(4404);
  });

  it('move when another node rotated the session (the store announces it)', async () => {
    const store = new BusStore();
    await using t = await startWsServer({ manager: { store } });
    const old = await t.manager.createSession();
    const socket = await connect(t.url, old.sessionId);
    const stream = subscribe(socket);
    await waitUntil(() => t.ws.connectionCount === 1);
    // What the other node's store did, then the announcement it sends.
    const newId = crypto.randomUUID();
    await store.rotate(old.sessionId, newId, Date.now());
    store.announce({ type: 'rotated', sessionId: old.sessionId, newSessionId: newId });
    await waitUntil(() => stream.stopped);
    expect(stream.events.at(-1)).toMatchObject({
      type: ROTATED_EVENT_TYPE,
      data: { sessionId: newId },
    });
    await waitUntil(async () => (await t.manager.getSession(newId))?.connectionCount === 1);
    expect(t.manager.rotatedTo(old.sessionId)).toBe(newId);
  });
});

describe('rotation after a login', () => {
  it('rotateSession(id, { userId }) makes an anonymous session the user’s, under its new id', async () => {
    await using t = await startWsServer();
    const anonymous = await t.manager.createSession({ metadata: { cart: [1] } });
    const mine = await t.manager.rotateSession(anonymous.sessionId, { userId: 'logged-in' });
    expect(mine).toMatchObject({ userId: 'logged-in', metadata: { cart: [1] } });
    expect((await t.manager.getSessionByUser('logged-in'))?.sessionId).toBe(mine.sessionId);
    await expect(t.manager.rotateSession(mine.sessionId, { userId: '' })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
  });
});

describe('deleteSessionsByUser', () => {
  it('ends every session of the user and closes their sockets with 4404, leaving other users', async () => {
    await using t = await startWsServer();
    const mine = [
      await t.manager.createSession({ userId: 'bob' }),
      await t.manager.createSession({ userId: 'bob' }),
    ];
    const other = await t.manager.createSession({ userId: 'carol' });
    const sockets = await Promise.all(mine.map((session) => connect(t.url, session.sessionId)));
    const otherSocket = await connect(t.url, other.sessionId);
    await waitUntil(() => t.ws.connectionCount === 3);
    const closes = sockets.map(closed);
    expect(await t.manager.deleteSessionsByUser('bob')).toBe(2);
    for (const close of await Promise.all(closes)) expect(close.code).toBe(4404);
    expect(await t.manager.listSessionsByUser('bob')).toEqual([]);
    expect(otherSocket.readyState).toBe(otherSocket.OPEN);
    expect(await t.manager.deleteSessionsByUser('bob')).toBe(0);
    otherSocket.close();
    await closed(otherSocket);
  });
});
