import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { closed, connect, startWsServer } from './testing/ws-server.js';

/** Sends an upgrade request and resolves the refusal (status and JSON body), or 101. */
function upgrade(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version': '13',
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: undefined });
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: text });
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('WebSocket upgrade', () => {
  it('answers 404 JSON for another path, and upgrades /trpc', async () => {
    await using t = await startWsServer();
    expect(await upgrade(t.port, '/elsewhere')).toEqual({
      status: 404,
      body: { error: { code: 'ROUTE_NOT_FOUND', message: 'No WebSocket endpoint at this path' } },
    });
    expect((await upgrade(t.port, '/trpc?connectionParams=1')).status).toBe(101);
  });

  it('leaves other paths to another upgrade listener when there is one', async () => {
    await using t = await startWsServer();
    let seen = '';
    t.server.on('upgrade', (req, socket) => {
      if (req.url !== '/hmr') return;
      seen = req.url;
      socket.end('HTTP/1.1 418 I am a teapot\r\nContent-Length: 2\r\n\r\n{}');
    });
    expect((await upgrade(t.port, '/hmr')).status).toBe(418);
    expect(seen).toBe('/hmr');
  });

  it('refuses an Origin outside the allow-list with 403 before the upgrade', async () => {
    await using t = await startWsServer({ ws: { allowedOrigins: ['https://app.example.com'] } });
    expect(await upgrade(t.port, '/trpc', { Origin: 'https://evil.example.com' })).toEqual({
      status: 403,
      body: { error: { code: 'FORBIDDEN_ORIGIN', message: 'Origin is not allowed' } },
    });
    expect((await upgrade(t.port, '/trpc', { Origin: 'https://APP.example.com' })).status).toBe(
      101,
    );
    // Non-browser clients send no Origin.
    expect((await upgrade(t.port, '/trpc')).status).toBe(101);
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId, { origin: 'https://app.example.com' });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
    await closed(socket);
  });

  it('takes a function as the Origin check', async () => {
    await using t = await startWsServer({
      ws: { allowedOrigins: (origin) => origin?.endsWith('.test') === true },
    });
    expect((await upgrade(t.port, '/trpc', { Origin: 'http://a.test' })).status).toBe(101);
    expect((await upgrade(t.port, '/trpc', { Origin: 'http://a.example' })).status).toBe(403);
    expect((await upgrade(t.port, '/trpc')).status).toBe(403);
  });

  it('refuses a malformed handshake without crashing', async () => {
    await using t = await startWsServer();
    expect(await upgrade(t.port, '/trpc', { 'Sec-WebSocket-Version': '99' })).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_REQUEST' } },
    });
    expect((await upgrade(t.port, '/trpc?connectionParams=1')).status).toBe(101);
  });
});
