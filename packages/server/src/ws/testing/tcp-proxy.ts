import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/** A loopback TCP proxy that can go silent, to simulate a peer that vanished (half-open). */
export interface TcpProxy extends AsyncDisposable {
  port: number;
  /** Stops forwarding in both directions without closing anything. */
  blackhole(): void;
  /** Drops every current connection at once (TCP reset); new ones are still forwarded. */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs: [Socket, Socket][] = [];
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port: (server.address() as AddressInfo).port,
    blackhole() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        // Read and drop whatever arrives; never end the other side.
        client.on('data', () => undefined);
        upstream.on('data', () => undefined);
      }
    },
    cut() {
      for (const socket of sockets) socket.resetAndDestroy();
      pairs.length = 0;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
