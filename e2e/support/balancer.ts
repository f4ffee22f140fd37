import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '@morgan/test-support';

/** A backend of the balancer, by loopback port. */
export interface Backend {
  readonly port: number;
  readonly name: string;
}

/** What the balancer has routed where. */
export interface BalancerStats {
  /** Open WebSocket (upgrade) connections per backend name. */
  webSockets: Record<string, number>;
  /** All open connections per backend name. */
  connections: Record<string, number>;
}

/** A round-robin TCP load balancer in front of several demo nodes. */
export interface Balancer extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  stats(): BalancerStats;
  close(): Promise<void>;
}

/**
 * A TCP load balancer without sticky sessions, like the one the README's
 * multi-node set-up assumes. Each new connection goes to the next backend in
 * turn; WebSocket upgrades (recognised from the request head) take turns
 * separately, so N tabs spread their sockets evenly over the nodes. A
 * backend that refuses the connection is skipped, so clients move to the
 * nodes still up.
 */
export async function startBalancer(backends: readonly Backend[]): Promise<Balancer> {
  const port = await freePort();
  let httpTurn = 0;
  let wsTurn = 0;
  const open = new Map<Socket, { backend: string; webSocket: boolean }>();

  const server: Server = createServer((client) => {
    client.once('data', (head: Buffer) => {
      // Hold further bytes until the upstream is connected (pipe resumes).
      client.pause();
      const webSocket = /\r\nupgrade:\s*websocket/i.test(head.toString('latin1'));
      const start = webSocket ? wsTurn++ : httpTurn++;
      tryBackend(client, head, webSocket, start, 0);
    });
    client.on('error', () => client.destroy());
  });

  function tryBackend(
    client: Socket,
    head: Buffer,
    webSocket: boolean,
    start: number,
    tried: number,
  ) {
    if (tried >= backends.length || client.destroyed) {
      client.destroy();
      return;
    }
    const backend = backends[(start + tried) % backends.length]!;
    const upstream = connect({ port: backend.port, host: '127.0.0.1' });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      open.set(client, { backend: backend.name, webSocket });
      upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => {
      if (!connected) {
        upstream.destroy();
        tryBackend(client, head, webSocket, start, tried + 1);
        return;
      }
      client.destroy();
    });
    upstream.on('close', () => {
      if (connected) client.destroy();
    });
    client.on('close', () => {
      open.delete(client);
      upstream.destroy();
    });
  }

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const close = async () => {
    for (const socket of open.keys()) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stats() {
      const stats: BalancerStats = { webSockets: {}, connections: {} };
      for (const { name } of backends) {
        stats.webSockets[name] = 0;
        stats.connections[name] = 0;
      }
      for (const { backend, webSocket } of open.values()) {
        stats.connections[backend] = (stats.connections[backend] ?? 0) + 1;
        if (webSocket) stats.webSockets[backend] = (stats.webSockets[backend] ?? 0) + 1;
      }
      return stats;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
