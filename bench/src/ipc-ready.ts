// The child side of ipc-child.ts: a benchmark server in a child process
// listens on a free loopback port, reports it with `{ ready: port }` and ends
// on SIGTERM or when its parent goes away.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 (a free port) and tells the parent the port. */
export async function listenAndReport(server: Server): Promise<void> {
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send?.({ ready: (server.address() as AddressInfo).port });
}
