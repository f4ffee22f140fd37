// Test resource: a loopback TCP balancer in front of demo nodes. New
// connections go to the current target; retargeting leaves open connections
// where they are (as a balancer taking a dead node out of rotation would).
import { connect, createServer, type Socket } from 'node:net';
import { pipeBothWays } from './pipe.js';

/** A TCP balancer with one target at a time. */
export interface Balancer extends AsyncDisposable {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Sends new connections to `port`. */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startBalancer(targetPort: number): Promise<Balancer> {
  let target = targetPort;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    pipeBothWays(client, upstream, sockets);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    retarget(next) {
      target = next;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
