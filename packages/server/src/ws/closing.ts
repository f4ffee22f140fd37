import { ErrorCode } from '../errors.js';
import type { CallRunner } from './calls.js';
import type { PendingWork } from './pending-work.js';
import type { SocketRegistry } from './registry.js';

/** What closing the sockets needs. */
export interface ClosingParts {
  registry: SocketRegistry;
  runner: CallRunner;
  work: PendingWork;
  /** Longest wait for each round of close handshakes before the sockets are cut, in ms. */
  closeTimeoutMs: number;
}

/**
 * Closes every socket of the layer: new calls answer `SHUTTING_DOWN`, the
 * calls in flight get up to `drainTimeoutMs` to answer (their answers are
 * sent), then every connection (tab or channel) is closed with `code`, cut
 * if its handshake takes longer than `closeTimeoutMs`, and the shared
 * sockets last, once their channels have closed.
 */
export async function closeSockets(
  parts: ClosingParts,
  code: number,
  drainTimeoutMs: number,
): Promise<void> {
  const { registry, runner, work, closeTimeoutMs } = parts;
  runner.closing = true;
  await work.waitFor(() => runner.inFlight === 0, drainTimeoutMs);
  // The last answers are sent in the microtasks after their calls end.
  await new Promise((resolve) => setImmediate(resolve));
  const { connections, muxes } = registry;
  for (const connection of connections) connection.end(code, ErrorCode.SHUTTING_DOWN);
  if (!(await work.waitFor(() => connections.size === 0, closeTimeoutMs))) {
    for (const { ws } of connections) ws.terminate();
    await work.waitFor(() => connections.size === 0, closeTimeoutMs);
  }
  for (const mux of muxes) mux.end(code, ErrorCode.SHUTTING_DOWN);
  if (!(await work.waitFor(() => muxes.size === 0, closeTimeoutMs))) {
    for (const { ws } of muxes) ws.terminate();
    await work.waitFor(() => muxes.size === 0, closeTimeoutMs);
  }
}
