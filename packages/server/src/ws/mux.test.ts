import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { closed, Latch, openSocket, startWsServer, waitUntil } from './testing/ws-server.js';

/** A raw shared socket (`?mux=1`) that splits what arrives by channel. */
async function openMux(url: string) {
  const socket = await openSocket(`${url}?mux=1`);
  const messages = new Map<number, Record<string, unknown>[]>();
  const closes = new Map<number, { code: number; reason: string }>();
  socket.on('message', (data: Buffer) => {
    const envelope = JSON.parse(data.toString()) as {
      c: number;
      t: string;
      d?: string;
      code?: number;
      reason?: string;
    };
    if (envelope.t === 'm') {
      const list = messages.get(envelope.c) ?? [];
      list.push(JSON.parse(envelope.d ?? 'null') as Record<string, unknown>);
      messages.set(envelope.c, list);
    } else if (envelope.t === 'x') {
      closes.set(envelope.c, { code: envelope.code ?? 0, reason: envelope.reason ?? '' });
    }
  });
  const send = (c: number, t: string, d?: unknown) =>
    socket.send(JSON.stringify(d === undefined ? { c, t } : { c, t, d: JSON.stringify(d) }));
  return {
    socket,
    messages,
    closes,
    send,
    /** Opens channel `c` and authenticates it with `sessionId`. */
    open(c: number, sessionId: string) {
      send(c, 'o');
      send(c, 'm', { method: 'connectionParams', data: { sessionId } });
    },
    /** Asks `session.get` on channel `c` as call `id`. */
    getSession(c: number, id: number) {
      send(c, 'm', {
        id,
        method: 'query',
        params: { path: 'session.get', input: { json: null } },
      });
    },
    /** True once channel `c` has an answer to call `id`. */
    answered(c: number, id: number): boolean {
      return (messages.get(c) ?? []).some((m) => m.id === id);
    },
    subscribeEvents(c: number) {
      send(c, 'm', {
        id: 1,
        method: 'subscription',
        params: { path: 'session.events', input: {} },
      });
    },
    /** Event types channel `c` received on subscription 1. */
    events(c: number): unknown[] {
      return (messages.get(c) ?? [])
        .filter((m) => m.id === 1 && (m.result as { type?: string })?.type === 'data')
        .map(
          (m) => (m.result as { data: { json: { data: { data: unknown } } } }).data.json.data.data,
        );
    },
  };
}

function rawSend(socket: WebSocket, text: string | Buffer) {
  socket.send(text);
}

describe('shared sockets (?mux=1)', () => {
  it('serve three channels of three sessions: each gets only its events, counted as one socket', async () => {
    await using t = await startWsServer();
    const sessions = await Promise.all([1, 2, 3].map(() => t.manager.createSession()));
    const mux = await openMux(t.url);
    sessions.forEach((session, i) => {
      mux.open(i + 1, session.sessionId);
      mux.subscribeEvents(i + 1);
    });
    await waitUntil(() => t.ws.channelCount === 3);
    expect(t.ws.connectionCount).toBe(1);
    expect(t.ws.sharedSocketCount).toBe(1);
    for (const session of sessions) {
      expect(t.ws.socketCount(session.sessionId)).toBe(1);
      expect((await t.manager.getSession(session.sessionId))?.connectionCount).toBe(1);
    }
    // Subscriptions start; then each session gets its own event.
    await waitUntil(() =>
      [1, 2, 3].every((c) =>
        (mux.messages.get(c) ?? []).some(
          (m) => (m.result as { type?: string })?.type === 'started',
        ),
      ),
    );
    for (const [i, session] of sessions.entries()) {
      await t.manager.publish(session.sessionId, 'note', { to: i + 1 });
    }
    await waitUntil(() => [1, 2, 3].every((c) => mux.events(c).length === 1));
    expect([1, 2, 3].map((c) => mux.events(c))).toEqual([[{ to: 1 }], [{ to: 2 }], [{ to: 3 }]]);
  });

  it('closes only the channel of a deleted session, with 4404', async () => {
    await using t = await startWsServer();
    const [doomed, kept] = await Promise.all([
      t.manager.createSession(),
      t.manager.createSession(),
    ]);
    const mux = await openMux(t.url);
    mux.open(1, doomed.sessionId);
    mux.open(2, kept.sessionId);
    await waitUntil(() => t.ws.channelCount === 2);
    await t.manager.deleteSession(doomed.sessionId);
    await waitUntil(() => mux.closes.has(1));
    expect(mux.closes.get(1)).toEqual({ code: 4404, reason: 'SESSION_NOT_FOUND' });
    expect(mux.closes.has(2)).toBe(false);
    expect(mux.socket.readyState).toBe(mux.socket.OPEN);
    await waitUntil(() => t.ws.channelCount === 1);
    expect(t.ws.connectionCount).toBe(1);
    // The kept channel still answers.
    mux.getSession(2, 7);
    await waitUntil(() => mux.answered(2, 7));
    const answer = (mux.messages.get(2) ?? []).find((m) => m.id === 7);
    expect(answer?.result).toMatchObject({ data: { json: { sessionId: kept.sessionId } } });
  });

  it('refuses a channel with a bad session alone (4400 / 4404)', async () => {
    await using t = await startWsServer();
    const kept = await t.manager.createSession();
    const mux = await openMux(t.url);
    mux.open(1, kept.sessionId);
    mux.open(2, 'not-a-session-id');
    mux.open(3, 'a'.repeat(43));
    await waitUntil(() => mux.closes.has(2) && mux.closes.has(3));
    expect(mux.closes.get(2)?.code).toBe(4400);
    expect([4400, 4404]).toContain(mux.closes.get(3)?.code);
    await waitUntil(() => t.ws.channelCount === 1);
    expect(mux.socket.readyState).toBe(mux.socket.OPEN);
  });

  it('closes a channel past maxChannelsPerSocket alone with 4429 TOO_MANY_CHANNELS', async () => {
    await using t = await startWsServer({ ws: { maxChannelsPerSocket: 2 } });
    const sessions = await Promise.all([1, 2, 3].map(() => t.manager.createSession()));
    const mux = await openMux(t.url);
    for (const [i, session] of sessions.entries()) mux.open(i + 1, session.sessionId);
    await waitUntil(() => mux.closes.has(3));
    expect(mux.closes.get(3)).toEqual({ code: 4429, reason: 'TOO_MANY_CHANNELS' });
    await waitUntil(() => t.ws.channelCount === 2);
    expect(await t.manager.getSession(sessions[2]?.sessionId ?? '')).toMatchObject({
      connectionCount: 0,
    });
  });

  it('counts unauthenticated channels among their address’s unauthenticated sockets', async () => {
    await using t = await startWsServer({ ws: { maxPendingSocketsPerAddress: 3 } });
    const session = await t.manager.createSession();
    const mux = await openMux(t.url);
    // The shared socket holds one place until a channel authenticates; channels 1 and 2 the others.
    mux.send(1, 'o');
    mux.send(2, 'o');
    mux.send(3, 'o');
    await waitUntil(() => mux.closes.has(3));
    expect(mux.closes.get(3)).toEqual({ code: 4429, reason: 'RATE_LIMITED' });
    // Authenticating gives back the channel's place and the socket's.
    mux.send(1, 'm', { method: 'connectionParams', data: { sessionId: session.sessionId } });
    await waitUntil(() => t.ws.channelCount === 1);
    mux.send(4, 'o');
    mux.send(5, 'o');
    mux.send(6, 'o');
    await waitUntil(() => mux.closes.has(6));
    expect(mux.closes.has(4) || mux.closes.has(5)).toBe(false);
    expect(mux.closes.get(6)?.code).toBe(4429);
  });

  it.each([
    ['text that is not JSON', 'nope'],
    ['an envelope without a channel', '{"t":"o"}'],
    ['a channel that is not a positive integer', '{"c":-1,"t":"o"}'],
    ['an unknown envelope type', '{"c":1,"t":"z"}'],
    ['a message without text', '{"c":1,"t":"m","d":{}}'],
    ['a binary frame', Buffer.from([1, 2, 3])],
  ])('closes the shared socket with 1007 on %s', async (_name, garbage) => {
    await using t = await startWsServer();
    const mux = await openMux(t.url);
    const close = closed(mux.socket);
    rawSend(mux.socket, garbage);
    expect(await close).toEqual({ code: 1007, reason: 'INVALID_REQUEST' });
  });

  it('closes the shared socket with 1007 when a channel is opened twice, releasing its count', async () => {
    await using t = await startWsServer();
    const session = await t.manager.createSession();
    const mux = await openMux(t.url);
    mux.open(1, session.sessionId);
    await waitUntil(() => t.ws.channelCount === 1);
    const close = closed(mux.socket);
    mux.send(1, 'o');
    expect((await close).code).toBe(1007);
    await waitUntil(
      async () => (await t.manager.getSession(session.sessionId))?.connectionCount === 0,
    );
  });

  it('closes a channel with 4400 when its connectionParams do not come, and the socket once it serves no channel', async () => {
    await using t = await startWsServer({ ws: { authTimeoutMs: 200 } });
    const session = await t.manager.createSession();
    const mux = await openMux(t.url);
    const close = closed(mux.socket);
    mux.open(1, session.sessionId);
    await waitUntil(() => t.ws.channelCount === 1);
    mux.send(2, 'o');
    await waitUntil(() => mux.closes.has(2));
    expect(mux.closes.get(2)?.code).toBe(4400);
    expect(mux.socket.readyState).toBe(mux.socket.OPEN);
    mux.send(1, 'x');
    expect(await close).toEqual({ code: 4400, reason: 'No channel authenticated' });
  });

  it('releases every channel’s count when the real socket closes', async () => {
    await using t = await startWsServer();
    const sessions = await Promise.all([1, 2, 3].map(() => t.manager.createSession()));
    const mux = await openMux(t.url);
    for (const [i, session] of sessions.entries()) mux.open(i + 1, session.sessionId);
    await waitUntil(() => t.ws.channelCount === 3);
    mux.socket.terminate();
    await waitUntil(() => t.ws.channelCount === 0 && t.ws.connectionCount === 0);
    for (const session of sessions) {
      await waitUntil(
        async () => (await t.manager.getSession(session.sessionId))?.connectionCount === 0,
      );
      expect(t.ws.socketCount(session.sessionId)).toBe(0);
    }
  });

  it('a channel the client closes frees its session’s count; the socket stays', async () => {
    await using t = await startWsServer();
    const [a, b] = await Promise.all([t.manager.createSession(), t.manager.createSession()]);
    const mux = await openMux(t.url);
    mux.open(1, a.sessionId);
    mux.open(2, b.sessionId);
    await waitUntil(() => t.ws.channelCount === 2);
    mux.send(1, 'x');
    await waitUntil(async () => (await t.manager.getSession(a.sessionId))?.connectionCount === 0);
    expect(t.ws.channelCount).toBe(1);
    expect(t.ws.connectionCount).toBe(1);
    // A message already on its way to the closed channel is dropped, not an error.
    mux.getSession(1, 1);
    mux.getSession(2, 2);
    await waitUntil(() => mux.answered(2, 2));
    expect(mux.messages.get(1)).toBeUndefined();
  });

  it('pings the shared socket once per round and terminates it when it stays silent', async () => {
    await using t = await startWsServer({
      ws: { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 50 },
    });
    const session = await t.manager.createSession();
    const mux = await openMux(t.url);
    let pings = 0;
    mux.socket.on('ping', () => {
      pings += 1;
    });
    mux.open(1, session.sessionId);
    mux.open(2, (await t.manager.createSession()).sessionId);
    await waitUntil(() => pings >= 3);
    // ws answers pings itself: both channels stay open.
    expect(t.ws.channelCount).toBe(2);
    mux.socket.pause(); // no more pongs (nor anything else) from the client
    await waitUntil(() => t.ws.channelCount === 0 && t.ws.connectionCount === 0);
    mux.socket.terminate();
  });

  it('closes channels with 1001 and then the shared socket on shutdown', async () => {
    const t = await startWsServer();
    const session = await t.manager.createSession();
    const mux = await openMux(t.url);
    mux.open(1, session.sessionId);
    await waitUntil(() => t.ws.channelCount === 1);
    const close = closed(mux.socket);
    await t.close();
    expect(mux.closes.get(1)?.code).toBe(1001);
    expect((await close).code).toBe(1001);
  });

  it('answers calls of two channels that use the same ids, each as its own session', async () => {
    await using t = await startWsServer();
    const [a, b] = await Promise.all([t.manager.createSession(), t.manager.createSession()]);
    const mux = await openMux(t.url);
    mux.open(1, a.sessionId);
    mux.open(2, b.sessionId);
    await waitUntil(() => t.ws.channelCount === 2);
    for (const c of [1, 2]) {
      mux.send(c, 'm', [
        { id: 1, method: 'mutation', params: { path: 'test.echo', input: { json: `to ${c}` } } },
        { id: 'two', method: 'query', params: { path: 'session.get', input: { json: null } } },
      ]);
    }
    await waitUntil(() => [1, 2].every((c) => (mux.messages.get(c) ?? []).length === 2));
    for (const [c, session] of [a, b].entries()) {
      const answers = mux.messages.get(c + 1) ?? [];
      expect(answers.find((m) => m.id === 1)?.result).toEqual({
        type: 'data',
        data: { json: { input: `to ${c + 1}`, sessionId: session.sessionId } },
      });
      expect(answers.find((m) => m.id === 'two')?.result).toMatchObject({
        data: { json: { sessionId: session.sessionId } },
      });
    }
  });

  it('keeps the subscriptions of two channels with the same id apart; a closed channel stops its own', async () => {
    await using t = await startWsServer();
    const [a, b, c] = await Promise.all([
      t.manager.createSession(),
      t.manager.createSession(),
      t.manager.createSession(),
    ]);
    const mux = await openMux(t.url);
    const subscribe = { id: 5, method: 'subscription', params: { path: 'test.ticks', input: {} } };
    for (const [i, session] of [a, b, c].entries()) {
      mux.open(i + 1, session.sessionId);
      mux.send(i + 1, 'm', subscribe);
    }
    const data = (ch: number) =>
      (mux.messages.get(ch) ?? []).filter((m) => (m.result as { type?: string })?.type === 'data');
    await waitUntil(() => [1, 2, 3].every((ch) => data(ch).length === 1));
    for (const [i, session] of [a, b, c].entries()) {
      expect(data(i + 1)[0]).toMatchObject({
        id: 5,
        result: { data: { json: session.sessionId } },
      });
    }
    // Channel 1 stops its id 5: only its subscription stops.
    mux.send(1, 'm', { id: 5, method: 'subscription.stop' });
    await waitUntil(() => t.slowStarted.includes(`ticks-end:${a.sessionId}`));
    await waitUntil(() =>
      (mux.messages.get(1) ?? []).some((m) => (m.result as { type?: string })?.type === 'stopped'),
    );
    // Channel 2 closes: its subscription ends with it; channel 3's runs on.
    mux.send(2, 'x');
    await waitUntil(() => t.slowStarted.includes(`ticks-end:${b.sessionId}`));
    expect(t.slowStarted).not.toContain(`ticks-end:${c.sessionId}`);
    expect(
      (mux.messages.get(3) ?? []).some((m) => (m.result as { type?: string })?.type === 'stopped'),
    ).toBe(false);
    // The same id again on channel 1 is not a duplicate of channel 3's.
    mux.send(1, 'm', subscribe);
    await waitUntil(() => data(1).length === 2);
  });

  it('drops the answer of a call whose channel closed meanwhile; the other channel is answered', async () => {
    await using t = await startWsServer();
    const [a, b] = await Promise.all([t.manager.createSession(), t.manager.createSession()]);
    const mux = await openMux(t.url);
    mux.open(1, a.sessionId);
    mux.open(2, b.sessionId);
    await waitUntil(() => t.ws.channelCount === 2);
    const latch = new Latch();
    t.latches.set('held', latch);
    const slow = {
      id: 1,
      method: 'mutation',
      params: { path: 'test.slow', input: { json: 'held' } },
    };
    mux.send(1, 'm', slow);
    await waitUntil(() => t.slowStarted.includes('held'));
    mux.send(1, 'x');
    await waitUntil(() => t.ws.channelCount === 1);
    mux.send(2, 'm', { ...slow, params: { ...slow.params, input: { json: 'free' } } });
    await waitUntil(() => mux.answered(2, 1));
    latch.open();
    await waitUntil(async () => (await t.manager.getSession(a.sessionId))?.connectionCount === 0);
    // A later call on channel 2 still answers there, and channel 1 got nothing.
    mux.getSession(2, 2);
    await waitUntil(() => mux.answered(2, 2));
    expect(mux.messages.get(1)).toBeUndefined();
  });

  it('with the app’s own createContext, gives each channel its connectionParams', async () => {
    await using t = await startWsServer({
      ws: {
        createContext: ({ connectionParams }) => ({ tab: connectionParams?.tab }),
      },
    });
    const [a, b] = await Promise.all([t.manager.createSession(), t.manager.createSession()]);
    const mux = await openMux(t.url);
    for (const [i, session] of [a, b].entries()) {
      mux.send(i + 1, 'o');
      mux.send(i + 1, 'm', {
        method: 'connectionParams',
        data: { sessionId: session.sessionId, tab: `tab ${i + 1}` },
      });
      mux.send(i + 1, 'm', {
        id: 1,
        method: 'mutation',
        params: { path: 'test.context', input: { json: null } },
      });
    }
    await waitUntil(() => [1, 2].every((c) => (mux.messages.get(c) ?? []).some((m) => m.id === 1)));
    for (const [i, session] of [a, b].entries()) {
      expect((mux.messages.get(i + 1) ?? []).find((m) => m.id === 1)?.result).toEqual({
        type: 'data',
        data: { json: { tab: `tab ${i + 1}`, sessionId: session.sessionId } },
      });
    }
  });
});
