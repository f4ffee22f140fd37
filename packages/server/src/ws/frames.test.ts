import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { frame, rawHandshake, serverCloseCode } from './testing/raw-frames.js';
import { call, closed, connect, startWsServer, type WsTestServer } from './testing/ws-server.js';

const PARAMS = (sessionId: string) =>
  Buffer.from(JSON.stringify({ method: 'connectionParams', data: { sessionId } }));

/** The next message on the socket, parsed. */
function nextMessage(socket: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    socket.once('message', (data: Buffer) =>
      resolve(JSON.parse(data.toString()) as Record<string, unknown>),
    );
  });
}

/** Proves the server still serves: a fresh socket gets an answer. */
async function stillServes(t: WsTestServer): Promise<void> {
  const { sessionId } = await t.manager.createSession();
  const socket = await connect(t.url, sessionId);
  const answer = await call(socket, 1, 'mutation', 'test.echo', 'alive');
  expect(answer.result).toMatchObject({ data: { json: { input: 'alive' } } });
  socket.close();
  await closed(socket);
}

describe('garbage on the wire', () => {
  it('closes with 1009 on a message above maxPayload, then serves others', async () => {
    await using t = await startWsServer({ ws: { maxPayload: 1024 } });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const close = closed(socket);
    socket.send('x'.repeat(4096));
    expect((await close).code).toBe(1009);
    await stillServes(t);
  });

  it('answers non-JSON, binary and non-tRPC messages with a protocol error and keeps the socket', async () => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    for (const junk of [
      '{not json',
      Buffer.from([0, 1, 2, 255]),
      '{"hello":"world"}',
      '[1,2,3]',
      'null',
    ]) {
      const reply = nextMessage(socket);
      socket.send(junk);
      expect(await reply).toMatchObject({
        id: null,
        error: { json: { data: { code: 'PARSE_ERROR' } } },
      });
    }
    const answer = await call(socket, 7, 'mutation', 'test.echo', 'still here');
    expect(answer.result).toMatchObject({ data: { json: { input: 'still here' } } });
    socket.close();
    await closed(socket);
  });

  it('refuses a batch above maxBatchSize without running it', async () => {
    await using t = await startWsServer({ ws: { maxBatchSize: 2 } });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const batch = [1, 2, 3].map((id) => ({
      id,
      method: 'mutation',
      params: { path: 'test.slow', input: { json: 'x' } },
    }));
    const reply = nextMessage(socket);
    socket.send(JSON.stringify(batch));
    // Morgan's own check, whatever the installed tRPC's maxBatchSize support.
    expect(await reply).toMatchObject({
      error: {
        json: {
          message: 'A batch may hold at most 2 calls',
          data: { code: 'BAD_REQUEST', errorCode: 'INVALID_REQUEST' },
        },
      },
    });
    expect(t.slowStarted).toEqual([]);
    socket.close();
    await closed(socket);
  });

  it.each([
    ['invalid UTF-8 in a text frame', 0x81, Buffer.from([0xc3, 0x28]), 1007],
    ['reserved bits set', 0xf1, Buffer.from('{}'), 1002],
    ['an unknown opcode', 0x83, Buffer.from('{}'), 1002],
  ])('closes on %s', async (_name, first, payload, code) => {
    await using t = await startWsServer();
    const { sessionId } = await t.manager.createSession();
    const socket = await rawHandshake(t.port);
    socket.write(frame(0x81, PARAMS(sessionId)));
    const close = serverCloseCode(socket);
    socket.write(frame(first, payload));
    expect(await close).toBe(code);
    socket.destroy();
    await stillServes(t);
  });

  it('survives garbage before authentication and a socket that drops mid-frame', async () => {
    await using t = await startWsServer();
    const raw = await rawHandshake(t.port);
    const close = serverCloseCode(raw);
    raw.write(frame(0x81, Buffer.from([0xff, 0xfe])));
    expect(await close).toBe(1007);
    raw.destroy();
    const cut = await rawHandshake(t.port);
    cut.write(frame(0x81, Buffer.from('{"method":"connectionParams"')).subarray(0, 5));
    cut.destroy();
    await stillServes(t);
  });
});
