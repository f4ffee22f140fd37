import type { Socket } from 'node:net';

/**
 * Joins two TCP sockets both ways and tracks them in `sockets` while open;
 * when either side closes, both are destroyed (a dead node or a cut link
 * takes its peers' connections with it).
 */
export function pipeBothWays(client: Socket, upstream: Socket, sockets: Set<Socket>): void {
  for (const socket of [client, upstream]) {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      client.destroy();
      upstream.destroy();
    });
  }
  client.pipe(upstream);
  upstream.pipe(client);
}
