import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { call, closed, connect, Latch, startWsServer, waitUntil } from './testing/ws-server.js';

/** Resolves the HTTP status of a refused upgrade. */
function refusedStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on('error', () => undefined);
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      socket.terminate();
    });
    socket.on('open', () => reject(new Error('upgrade was accepted')));
  });
}

describe('WebSocket shutdown', () => {
  it('lets calls in flight answer, then closes every socket with 1001', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const busy = await connect(t.url, sessionId);
    const idle = await connect(t.url, sessionId);
    const latch = new Latch();
    t.latches.set('last words', latch);
    const answer = call(busy, 1, 'mutation', 'test.slow', 'last words');
    await waitUntil(() => t.slowStarted.length === 1);
    const closes = Promise.all([closed(busy), closed(idle)]);
    const closing = t.ws.close({ drainTimeoutMs: 10_000 });

    // Draining: no new sockets, no new calls, the old ones still open.
    expect(await refusedStatus(t.url)).toBe(503);
    const refused = await call(idle, 2, 'mutation', 'test.echo', 'late');
    expect(refused.error).toMatchObject({
      json: { data: { errorCode: 'SHUTTING_DOWN', httpStatus: 503 } },
    });
    expect(busy.readyState).toBe(WebSocket.OPEN);

    latch.open();
    expect((await answer).result).toMatchObject({ data: { json: 'last words' } });
    const codes = (await closes).map((close) => close.code);
    expect(codes).toEqual([1001, 1001]);
    await closing;
    expect((await t.manager.getSession(sessionId))?.connectionCount).toBe(0);
  });

  it('closes with 1001 at the drain deadline when a call never finishes', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    t.latches.set('stuck', new Latch());
    void call(socket, 1, 'mutation', 'test.slow', 'stuck');
    await waitUntil(() => t.slowStarted.length === 1);
    const close = closed(socket);
    await t.ws.close({ drainTimeoutMs: 50 });
    expect((await close).code).toBe(1001);
    expect(t.ws.connectionCount).toBe(0);
  });

  it('is idempotent and also closes sockets that had not authenticated yet', async () => {
    await using t = await startWsServer();
    const pending = new WebSocket(t.url);
    pending.on('error', () => undefined);
    await new Promise((resolve) => pending.once('open', resolve));
    const close = closed(pending);
    const first = t.ws.close();
    expect(t.ws.close()).toBe(first);
    await first;
    expect((await close).code).toBe(1001);
  });
});
