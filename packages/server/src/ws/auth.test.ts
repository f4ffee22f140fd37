import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  call,
  closed,
  connect,
  openSocket,
  startWsServer,
  type TestRouter,
  waitUntil,
} from './testing/ws-server.js';

const UNKNOWN = '0b0e4a3e-2f53-4a8e-9a57-0f4bd0c3f1a7';

describe('WebSocket session auth (connectionParams)', () => {
  it('serves calls on a socket that sent a known session id', async () => {
    await using t = await startWsServer();
    const session = await t.manager.createSession();
    const socket = await connect(t.url, session.sessionId);
    const answer = await call(socket, 1, 'mutation', 'test.echo', 'hi');
    expect(answer.result).toMatchObject({
      type: 'data',
      data: { json: { input: 'hi', sessionId: session.sessionId } },
    });
    socket.close();
    await closed(socket);
  });

  it.each([
    ['no sessionId', JSON.stringify({ method: 'connectionParams', data: {} })],
    ['null params', JSON.stringify({ method: 'connectionParams', data: null })],
    [
      'a sessionId that is not a UUID',
      JSON.stringify({ method: 'connectionParams', data: { sessionId: 'abc' } }),
    ],
    [
      'a numeric sessionId',
      JSON.stringify({ method: 'connectionParams', data: { sessionId: 42 } }),
    ],
    ['text that is not JSON', '{"method":'],
    [
      'a call instead of connectionParams',
      JSON.stringify({ id: 1, method: 'query', params: { path: 'session.get' } }),
    ],
  ])('closes with 4400 when the first message has %s', async (_name, first) => {
    await using t = await startWsServer();
    const socket = await openSocket(`${t.url}?connectionParams=1`);
    socket.send(first);
    expect((await closed(socket)).code).toBe(4400);
  });

  it('closes with 4400 when the first message is binary', async () => {
    await using t = await startWsServer();
    const socket = await openSocket(t.url);
    socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect((await closed(socket)).code).toBe(4400);
  });

  it('closes with 4400 when no connectionParams arrive in time', async () => {
    await using t = await startWsServer({ ws: { authTimeoutMs: 50 } });
    const socket = await openSocket(t.url);
    expect(await closed(socket)).toEqual({ code: 4400, reason: 'connectionParams not received' });
  });

  it('closes with 4404 for an unknown or deleted session', async () => {
    await using t = await startWsServer();
    const unknown = await connect(t.url, UNKNOWN);
    expect(await closed(unknown)).toEqual({ code: 4404, reason: 'SESSION_NOT_FOUND' });
    const session = await t.manager.createSession();
    await t.manager.deleteSession(session.sessionId);
    const deleted = await connect(t.url, session.sessionId);
    expect((await closed(deleted)).code).toBe(4404);
    expect(t.ws.connectionCount).toBe(0);
  });

  it('serves calls sent right behind the connectionParams, before the lookup finished', async () => {
    await using t = await startWsServer();
    const session = await t.manager.createSession();
    const socket = await openSocket(`${t.url}?connectionParams=1`);
    socket.send(
      JSON.stringify({ method: 'connectionParams', data: { sessionId: session.sessionId } }),
    );
    const answers = await Promise.all(
      [1, 2, 3].map((id) => call(socket, id, 'mutation', 'test.echo', `m${id}`)),
    );
    const inputs = answers.map(
      (answer) => (answer.result as { data: { json: { input: string } } }).data.json.input,
    );
    expect(inputs).toEqual(['m1', 'm2', 'm3']);
    socket.close();
    await closed(socket);
  });

  it("reaches tRPC's own client: a known session works, an unknown one sees 4404", async () => {
    await using t = await startWsServer();
    const session = await t.manager.createSession();
    const client = createWSClient({
      url: t.url,
      connectionParams: () => ({ sessionId: session.sessionId }),
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    const trpc = createTRPCClient<TestRouter>({
      links: [wsLink({ client, transformer: superjson })],
    });
    const got = await trpc.session.get.query();
    expect(got.sessionId).toBe(session.sessionId);
    expect(got.connectionCount).toBe(1);
    await client.close();

    const closes: (number | undefined)[] = [];
    const rejected = createWSClient({
      url: t.url,
      connectionParams: { sessionId: UNKNOWN },
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      retryDelayMs: () => 60_000,
      onClose: (cause) => closes.push(cause?.code),
    });
    await waitUntil(() => closes.length > 0);
    expect(closes[0]).toBe(4404);
    await rejected.close();
  });
});
