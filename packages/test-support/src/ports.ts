// Free loopback ports for test servers and child processes.
import { createServer } from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago: listens on port 0, reads
 * the port the kernel chose and closes again. Another process may take it in
 * between, so callers that bind it later retry on `EADDRINUSE` where it matters.
 *
 * @example
 * const port = await freePort();
 * spawn('redis-server', ['--port', String(port)]);
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
