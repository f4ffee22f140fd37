import { describe, expect, it } from 'vitest';
import { attachWebSocketDefaults } from './options.js';
import { startTcpProxy } from './testing/tcp-proxy.js';
import { closed, connect, startWsServer, waitUntil } from './testing/ws-server.js';

const fast = { heartbeatIntervalMs: 40, heartbeatTimeoutMs: 40 };

describe('server heartbeat', () => {
  it('documents 25 s pings and a 10 s pong timeout', () => {
    expect(attachWebSocketDefaults).toMatchObject({
      heartbeatIntervalMs: 25_000,
      heartbeatTimeoutMs: 10_000,
    });
  });

  it('keeps a peer that answers pings across many rounds', async () => {
    await using t = await startWsServer({ ws: fast });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    let pings = 0;
    socket.on('ping', () => {
      pings += 1;
    });
    await waitUntil(() => pings >= 5);
    expect(socket.readyState).toBe(socket.OPEN);
    expect((await t.manager.getSession(sessionId))?.connectionCount).toBe(1);
    socket.close();
    await closed(socket);
  });

  it('terminates a peer that stops answering pings and counts it down', async () => {
    await using t = await startWsServer({ ws: fast });
    const { sessionId } = await t.manager.createSession();
    const healthy = await connect(t.url, sessionId);
    const silent = await connect(t.url, sessionId, { autoPong: false });
    await waitUntil(async () => (await t.manager.getSession(sessionId))?.connectionCount === 2);
    // Terminated: the TCP connection ends without a close frame.
    expect((await closed(silent)).code).toBe(1006);
    await waitUntil(async () => (await t.manager.getSession(sessionId))?.connectionCount === 1);
    expect(healthy.readyState).toBe(healthy.OPEN);
    healthy.close();
    await closed(healthy);
  });

  it('detects a half-open connection (peer vanished without a close) and counts it down', async () => {
    await using t = await startWsServer({ ws: fast });
    await using proxy = await startTcpProxy(t.port);
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(`ws://127.0.0.1:${proxy.port}/trpc`, sessionId);
    await waitUntil(async () => (await t.manager.getSession(sessionId))?.connectionCount === 1);
    proxy.blackhole();
    await waitUntil(async () => (await t.manager.getSession(sessionId))?.connectionCount === 0);
    expect(t.ws.connectionCount).toBe(0);
    // The client never heard anything: its side is still "open".
    expect(socket.readyState).toBe(socket.OPEN);
    socket.terminate();
  });

  it('touches lastActivity on pongs', async () => {
    let now = 1_700_000_000_000;
    await using t = await startWsServer({
      manager: { now: () => now },
      ws: { ...fast, touchIntervalMs: 0 },
    });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    await waitUntil(() => t.ws.connectionCount === 1);
    now += 120_000;
    // No message from the client: only pongs can move lastActivity.
    await waitUntil(
      async () => (await t.manager.getSession(sessionId))?.lastActivity.getTime() === now,
    );
    socket.close();
    await closed(socket);
  });

  it('writes lastActivity at most once per touchIntervalMs per session', async () => {
    await using t = await startWsServer({ ws: { ...fast, touchIntervalMs: 60_000 } });
    const { sessionId } = await t.manager.createSession();
    let touches = 0;
    const touch = t.manager.store.touch.bind(t.manager.store);
    t.manager.store.touch = async (id, now) => {
      touches += 1;
      return touch(id, now);
    };
    const socket = await connect(t.url, sessionId);
    let pings = 0;
    socket.on('ping', () => {
      pings += 1;
    });
    await waitUntil(() => pings >= 4);
    for (let i = 0; i < 10; i += 1) socket.send('PING');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(touches).toBe(1);
    socket.close();
    await closed(socket);
  });
});
