// Attacker's side: a slowloris client that opens a connection and never
// finishes its headers is cut off; a normal client is served as before.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, test } from 'vitest';
import { hardenServer, hardenServerDefaults } from './harden.js';

describe('hardenServer', () => {
  test('sets the documented defaults', () => {
    const server = hardenServer(createServer());
    expect({
      headersTimeoutMs: server.headersTimeout,
      requestTimeoutMs: server.requestTimeout,
      keepAliveTimeoutMs: server.keepAliveTimeout,
      maxHeadersCount: server.maxHeadersCount,
      maxRequestsPerSocket: server.maxRequestsPerSocket,
    }).toEqual(hardenServerDefaults);
  });

  test('a client that never finishes its headers gets 408 and is disconnected; others are served', async () => {
    const server = createServer({ connectionsCheckingInterval: 50 }, (_req, res) => res.end('ok'));
    // A second for the headers: the slow client is cut off after it, while the
    // normal request, whose headers leave at once, keeps a margin a loaded machine
    // (which may read them hundreds of milliseconds late) cannot eat.
    hardenServer(server, { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const slow = connect(port, '127.0.0.1');
      let received = '';
      slow.on('data', (chunk) => {
        received += chunk.toString();
      });
      slow.on('error', () => {});
      await once(slow, 'connect');
      slow.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      // Waits for the server to act, however long a loaded machine takes.
      await once(slow, 'close');
      expect(received).toMatch(/^HTTP\/1\.1 408/);
      expect(received).toMatch(/content-type: application\/json/i);
      expect(received).toContain('"code":"INVALID_REQUEST"');

      const ok = await fetch(`http://127.0.0.1:${port}/`);
      expect(await ok.text()).toBe('ok');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('headers over maxHeaderSize answer 431 with a JSON error body, not a bare status line', async () => {
    const server = hardenServer(createServer((_req, res) => res.end('ok')));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const client = connect(port, '127.0.0.1');
      let received = '';
      client.on('data', (chunk) => {
        received += chunk.toString();
      });
      client.on('error', () => {});
      await once(client, 'connect');
      client.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      await once(client, 'close');
      expect(received).toMatch(/^HTTP\/1\.1 431/);
      expect(received).toMatch(/content-type: application\/json/i);
      expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toEqual({
        error: { code: 'INVALID_REQUEST', message: 'Request headers are too large' },
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
