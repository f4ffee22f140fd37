import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './ports.js';
import { establishedConnections } from './tcp-connections.js';

describe('establishedConnections', () => {
  it('counts the connections this process accepted on its port, as they open and close', async () => {
    const port = await freePort();
    const accepted: Socket[] = [];
    const server = createServer((socket) => accepted.push(socket));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    const other = createServer();
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      expect(establishedConnections(process.pid, port)).toBe(0);
      const clients = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
      await Promise.all(clients.map((client) => once(client, 'connect')));
      await expect.poll(() => accepted.length).toBe(2);
      // The clients' ends are in this process too, but on their own ephemeral ports.
      expect(establishedConnections(process.pid, port)).toBe(2);
      clients[0]?.destroy();
      accepted[0]?.destroy();
      await expect.poll(() => establishedConnections(process.pid, port)).toBe(1);
      for (const socket of [...clients, ...accepted]) socket.destroy();
    } finally {
      server.close();
      other.close();
    }
  });

  it('throws for a process that is gone', () => {
    expect(() => establishedConnections(2 ** 22 + 1, 80)).toThrow();
  });
});
