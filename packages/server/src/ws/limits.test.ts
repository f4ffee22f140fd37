// Attacker's side: WebSocket limits on a real server. Each answers with its
// documented code, and counts end where they were.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { closed, connect, openSocket, startWsServer, waitUntil } from './testing/ws-server.js';

function subscribe(socket: WebSocket, id: number) {
  socket.send(
    JSON.stringify({ id, method: 'subscription', params: { path: 'session.events', input: {} } }),
  );
}

/** The first answer to call `id`: a result or an error, as JSON text. */
function answerTo(socket: WebSocket, id: number): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id: unknown };
      if (message.id !== id) return;
      socket.off('message', onMessage);
      resolve(data.toString());
    };
    socket.on('message', onMessage);
  });
}

describe('WebSocket limits', () => {
  it('a session past maxSocketsPerSession gets its extra socket closed with 4429; the count stays exact', async () => {
    await using t = await startWsServer({ ws: { maxSocketsPerSession: 3 } });
    const { sessionId } = await t.manager.createSession();
    const kept = await Promise.all([1, 2, 3].map(() => connect(t.url, sessionId)));
    await waitUntil(() => t.ws.connectionCount === 3);
    const extra = await connect(t.url, sessionId);
    expect(await closed(extra)).toEqual({ code: 4429, reason: 'TOO_MANY_SOCKETS' });
    await waitUntil(async () => (await t.manager.getSession(sessionId))?.connectionCount === 3);
    for (const socket of kept) expect(socket.readyState).toBe(WebSocket.OPEN);
    for (const socket of kept) socket.close();
    await waitUntil(async () => (await t.manager.getSession(sessionId))?.connectionCount === 0);
  });

  it('an address holding maxPendingSocketsPerAddress unauthenticated sockets gets 429 on the next upgrade', async () => {
    await using t = await startWsServer({ ws: { maxPendingSocketsPerAddress: 2 } });
    const silent = [await openSocket(t.url), await openSocket(t.url)];
    const refused = new WebSocket(t.url);
    const [, response] = (await once(refused, 'unexpected-response')) as [
      unknown,
      { statusCode: number },
    ];
    expect(response.statusCode).toBe(429);
    // Once one of them authenticates, its place is free again.
    const { sessionId } = await t.manager.createSession();
    silent[0]?.send(JSON.stringify({ method: 'connectionParams', data: { sessionId } }));
    await waitUntil(() => t.ws.connectionCount === 1);
    const next = await openSocket(t.url);
    expect(next.readyState).toBe(WebSocket.OPEN);
    for (const socket of [...silent, next]) socket.terminate();
  });

  it('a socket past maxSubscriptionsPerSocket gets RATE_LIMITED for the extra subscription, and a stopped one frees its slot', async () => {
    await using t = await startWsServer({ ws: { maxSubscriptionsPerSocket: 2 } });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const started = [answerTo(socket, 1), answerTo(socket, 2)];
    subscribe(socket, 1);
    subscribe(socket, 2);
    for (const answer of await Promise.all(started)) expect(answer).toContain('"started"');
    const third = answerTo(socket, 3);
    subscribe(socket, 3);
    expect(await third).toContain('"errorCode":"RATE_LIMITED"');
    socket.send(JSON.stringify({ id: 1, method: 'subscription.stop' }));
    // The stop releases the slot once tRPC ends the stream; then a new one starts.
    await waitUntil(async () => {
      const id = 100 + Math.floor(Math.random() * 1e6);
      const answer = answerTo(socket, id);
      subscribe(socket, id);
      const text = await answer;
      return text.includes('"started"');
    });
    socket.close();
  });

  it('a client that stops reading is closed instead of buffered without bound', async () => {
    await using t = await startWsServer({
      ws: { maxBufferedBytes: 64 * 1024, closeTimeoutMs: 500 },
    });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const started = answerTo(socket, 1);
    subscribe(socket, 1);
    await started;
    // Stop reading: the kernel buffers fill, then the server's queue grows.
    (socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = 'x'.repeat(30_000);
    for (let i = 0; i < 2_000 && t.ws.connectionCount > 0; i += 1) {
      await t.manager.publish(sessionId, 'bulk', { payload, i });
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitUntil(() => t.ws.connectionCount === 0);
    await waitUntil(async () => (await t.manager.getSession(sessionId))?.connectionCount === 0);
    socket.terminate();
  });
});
