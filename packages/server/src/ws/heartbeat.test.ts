import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Heartbeat, type HeartbeatPeer } from './heartbeat.js';
import { attachWebSocketDefaults } from './options.js';
import { startTcpProxy } from './testing/tcp-proxy.js';
import { closed, connect, startWsServer, waitUntil } from './testing/ws-server.js';

// Over real sockets the rounds are quick (40 ms) but a healthy peer gets 2 s to
// answer, so a busy machine that reads a pong late never looks like a dead
// peer; the exact timing is checked with fake timers in `Heartbeat` below.
const fast = { heartbeatIntervalMs: 40, heartbeatTimeoutMs: 2_000 };

/** A peer whose socket only records pings and terminations. */
function fakePeer(): HeartbeatPeer & { pings: number; terminated: boolean } {
  const peer = {
    pingRound: 0,
    pings: 0,
    terminated: false,
    ws: {
      readyState: WebSocket.OPEN as number,
      ping: () => {
        peer.pings += 1;
      },
      terminate: () => {
        peer.terminated = true;
        peer.ws.readyState = WebSocket.CLOSED;
      },
    },
  };
  return peer as unknown as HeartbeatPeer & { pings: number; terminated: boolean };
}

describe('Heartbeat (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pings every interval and terminates a peer silent for the timeout, not one that answers', () => {
    const answering = fakePeer();
    const silent = fakePeer();
    const heartbeat = new Heartbeat([answering, silent], 100, 50);
    heartbeat.start();
    vi.advanceTimersByTime(99);
    expect([answering.pings, silent.pings]).toEqual([0, 0]);
    vi.advanceTimersByTime(1); // round 1
    expect([answering.pings, silent.pings]).toEqual([1, 1]);
    Heartbeat.alive(answering);
    vi.advanceTimersByTime(49);
    expect(silent.terminated).toBe(false);
    vi.advanceTimersByTime(1); // round 1's check
    expect(silent.terminated).toBe(true);
    expect(answering.terminated).toBe(false);
    vi.advanceTimersByTime(50); // round 2
    Heartbeat.alive(answering);
    for (let round = 3; round <= 10; round += 1) {
      vi.advanceTimersByTime(100);
      Heartbeat.alive(answering); // answers each ping before its check
    }
    expect(answering.terminated).toBe(false);
    expect(answering.pings).toBe(10);
    expect(silent.pings).toBe(1);
    vi.advanceTimersByTime(100); // round 11, and now it stays silent too
    vi.advanceTimersByTime(49);
    expect(answering.terminated).toBe(false);
    vi.advanceTimersByTime(1);
    expect(answering.terminated).toBe(true);
    heartbeat.stop();
  });

  it('does not ping a peer again while its ping is outstanding, and any answer counts', () => {
    const slow = fakePeer();
    const heartbeat = new Heartbeat([slow], 100, 250);
    heartbeat.start();
    vi.advanceTimersByTime(200); // rounds 1 and 2: one ping outstanding
    expect(slow.pings).toBe(1);
    Heartbeat.alive(slow); // a late answer, before round 1's check at 350 ms
    vi.advanceTimersByTime(100); // round 3 pings again
    expect(slow.pings).toBe(2);
    vi.advanceTimersByTime(100); // round 1's check passes: it answered
    expect(slow.terminated).toBe(false);
    vi.advanceTimersByTime(250); // round 3's check: silent since
    expect(slow.terminated).toBe(true);
    heartbeat.stop();
  });

  it('stops pinging and checking on stop()', () => {
    const peer = fakePeer();
    const heartbeat = new Heartbeat([peer], 100, 50);
    heartbeat.start();
    vi.advanceTimersByTime(100);
    heartbeat.stop();
    vi.advanceTimersByTime(10_000);
    expect(peer.pings).toBe(1);
    expect(peer.terminated).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

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
    let pongs = 0;
    socket.on('message', (data) => {
      if (data.toString() === 'PONG') pongs += 1;
    });
    await waitUntil(() => pings >= 4);
    for (let i = 0; i < 10; i += 1) socket.send('PING');
    // tRPC answers each PING with a PONG: once all ten are back, the server has seen them all.
    await waitUntil(() => pongs === 10);
    expect(touches).toBe(1);
    socket.close();
    await closed(socket);
  });
});
