import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NginxServer, startNginx } from './nginx.js';
import { freePort } from './ports.js';

/** A tiny upstream: answers its name and what nginx forwarded; echoes upgraded bytes with its name. */
async function upstream(name: string, at?: number): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, forwardedFor: req.headers['x-forwarded-for'] ?? null }));
  });
  server.on('upgrade', (req, socket: Socket) => {
    const key = String(req.headers['sec-websocket-key']);
    const accept = createHash('sha1')
      .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on('data', (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
  });
  const port = at ?? (await freePort());
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { server, address: `127.0.0.1:${port}` };
}

/** Upgrades through nginx, sends `text` over the tunnel and resolves what came back. */
function upgradeAndEcho(url: string, text: string): Promise<{ status: number; echo: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/trpc`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
      },
    });
    req.once('upgrade', (res, socket) => {
      socket.once('data', (chunk: Buffer) => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, echo: chunk.toString() });
      });
      socket.write(text);
    });
    req.once('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.once('error', reject);
    req.end();
  });
}

async function name(url: string): Promise<string> {
  const response = await fetch(`${url}/who`);
  return ((await response.json()) as { name: string }).name;
}

let a: Awaited<ReturnType<typeof upstream>>;
let b: Awaited<ReturnType<typeof upstream>>;
let nginx: NginxServer;

beforeAll(async () => {
  a = await upstream('a');
  b = await upstream('b');
  nginx = await startNginx({ upstreams: [a.address, b.address] });
});

afterAll(async () => {
  await nginx?.stop();
  for (const up of [a, b]) {
    up?.server.closeAllConnections();
    up?.server.close();
  }
});

describe('startNginx', () => {
  it('takes turns over the upstreams for plain requests and sets X-Forwarded-For', async () => {
    const names: string[] = [];
    for (let i = 0; i < 6; i += 1) names.push(await name(nginx.url));
    expect(names.filter((n) => n === 'a')).toHaveLength(3);
    for (let i = 1; i < names.length; i += 1) expect(names[i]).not.toBe(names[i - 1]);

    const response = await fetch(`${nginx.url}/who`);
    expect(await response.json()).toMatchObject({ forwardedFor: '127.0.0.1' });
    expect(nginx.accessLog().at(-1)).toMatchObject({
      status: 200,
      method: 'GET',
      uri: '/who',
      webSocket: false,
    });
    // The log names the upstream of each: a, b, a, b … as the answers said.
    const logged = nginx.accessLog().map((entry) => (entry.upstreams[0] === a.address ? 'a' : 'b'));
    expect(logged.slice(0, names.length)).toEqual(names);
  });

  it('proxies WebSocket upgrades, which take turns of their own', async () => {
    const first = await upgradeAndEcho(nginx.url, 'hello');
    await name(nginx.url); // a plain request between two upgrades does not shift their turns
    const second = await upgradeAndEcho(nginx.url, 'again');
    expect(first.status).toBe(101);
    expect(second.status).toBe(101);
    expect([first.echo, second.echo].sort()).toEqual(['a:hello', 'b:again'].sort());
    await expect
      .poll(() =>
        nginx
          .accessLog()
          .filter((entry) => entry.webSocket)
          .map((e) => e.status),
      )
      .toEqual([101, 101]);
  });

  it('refuses every WebSocket upgrade with 403 under refuseWebSocket, and still proxies plain requests', async () => {
    await using closed = await startNginx({ upstreams: [a.address], refuseWebSocket: true });
    await expect(upgradeAndEcho(closed.url, 'hello')).rejects.toThrow('no upgrade: 403');
    expect(await name(closed.url)).toBe('a');
    await expect
      .poll(() => closed.accessLog().map((entry) => [entry.status, entry.webSocket]))
      .toEqual([
        [403, true],
        [200, false],
      ]);
  });

  it('skips an upstream that refuses connections', async () => {
    const down = await freePort(); // nothing listens here
    await using partly = await startNginx({ upstreams: [`127.0.0.1:${down}`, a.address] });
    for (let i = 0; i < 3; i += 1) expect(await name(partly.url)).toBe('a');
    // The first request tried the refused one, then went on to a.
    expect(partly.accessLog()[0]?.upstreams).toEqual([`127.0.0.1:${down}`, a.address]);
  });

  it('sends upgrades to a server again as soon as it is back (maxFails 0)', async () => {
    const port = await freePort(); // down at first
    await using partly = await startNginx({ upstreams: [`127.0.0.1:${port}`, a.address] });
    expect((await upgradeAndEcho(partly.url, 'first')).echo).toBe('a:first');
    const back = await upstream('x', port);
    try {
      const echoes = [
        (await upgradeAndEcho(partly.url, 'next')).echo,
        (await upgradeAndEcho(partly.url, 'next')).echo,
      ];
      expect(echoes.sort()).toEqual(['a:next', 'x:next']);
    } finally {
      back.server.closeAllConnections();
      back.server.close();
    }
  });

  it('stops by PID and removes its dir', async () => {
    const own = await startNginx({ upstreams: [a.address] });
    const { dir, pid } = own;
    expect(pid).toBeTypeOf('number');
    expect(existsSync(`${dir}/nginx.conf`)).toBe(true);
    await own.stop();
    expect(own.pid).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
    await expect(fetch(own.url)).rejects.toThrow();
  });
});
