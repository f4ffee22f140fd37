import type { ClientTransports } from './client-transports.js';
import type { ClientConnection } from './connection.js';
import type { Emitter } from './emitter.js';
import type { SessionClientError } from './errors.js';
import type { ClientLifetime } from './lifetime.js';
import type { SessionClientEvents } from './session-events.js';
import type { SessionLifecycle } from './session-lifecycle.js';
import type { SharedSocket } from './shared/shared-socket.js';

/** Everything a shutdown stops. */
export interface ShutdownParts {
  emitter: Emitter<SessionClientEvents>;
  lifetime: ClientLifetime;
  connection: ClientConnection;
  session: SessionLifecycle;
  transports: ClientTransports;
  shared: SharedSocket | undefined;
}

/**
 * Closes the client once, by `close()` or on a fatal error: stops
 * heartbeats, the event stream, online/offline listeners, transports,
 * reconnects and pending waits, optionally ends the session on the server,
 * and ends in `closed`. Leaves no timer or socket behind.
 */
export class ClientShutdown {
  readonly #parts: ShutdownParts;

  constructor(parts: ShutdownParts) {
    this.#parts = parts;
  }

  /** `close()`: with `endSession`, also deletes the session and forgets its id. Idempotent. */
  close(endSession: boolean): Promise<void> {
    return this.#parts.lifetime.end(() => this.#run(endSession, undefined));
  }

  /** Closes on a fatal error: reports it (unless closing already) and ends in `closed` with it. */
  fail(error: SessionClientError): Promise<void> {
    const { lifetime, emitter } = this.#parts;
    if (!lifetime.closed) emitter.emit('error', error);
    return lifetime.end(() => this.#run(false, error));
  }

  async #run(endSession: boolean, error: SessionClientError | undefined): Promise<void> {
    const { lifetime, connection, session, transports, shared } = this.#parts;
    session.stop();
    connection.detach();
    // The socket's `close()` stops tRPC's reconnect loop first (synchronously),
    // so that rejecting the pending backoff below cannot start another attempt.
    const socketClosed = transports.close();
    connection.scheduler.close();
    lifetime.abort();
    if (endSession) await session.end();
    await socketClosed?.catch(() => {});
    // After the socket: its close reaches the leader before this tab leaves.
    shared?.close();
    connection.closed(error);
  }
}
