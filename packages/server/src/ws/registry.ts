import { ErrorCode } from '../errors.js';
import type { SessionEndedEvent, SessionManager, SessionRotatedEvent } from '../manager.js';
import { CloseCode } from '../protocol.js';
import type { CallRunner } from './calls.js';
import { Channel } from './channel.js';
import type { Connection, ConnectionHost, Served } from './connection.js';
import type { HeartbeatPeer } from './heartbeat.js';
import type { MuxSocket } from './mux.js';
import type { WebSocketSettings } from './options.js';
import type { PendingWork } from './pending-work.js';
import { SessionSockets } from './session-sockets.js';
import { SocketState } from './socket.js';
import { TrpcHandler } from './trpc-handler.js';

/** What the registry is made with. */
export interface SocketRegistryOptions {
  manager: SessionManager;
  runner: CallRunner;
  work: PendingWork;
  settings: Pick<WebSocketSettings, 'touchIntervalMs' | 'endGraceMs'>;
}

/**
 * The connections (a tab's socket, a channel of a shared socket) and shared
 * sockets open on this node, and which session each connection serves: the
 * counts, a session's sockets ended (4404) or moved (rotation) when the
 * manager says so, activity written to the session (throttled per session),
 * and the hand-over of an authenticated connection to its tRPC handler.
 */
export class SocketRegistry implements ConnectionHost {
  readonly manager: SessionManager;
  readonly #connections = new Set<Connection>();
  /** Shared sockets open (each knows its channels). */
  readonly #muxes = new Set<MuxSocket>();
  readonly #sessions = new SessionSockets<Connection>();
  readonly #runner: CallRunner;
  readonly #work: PendingWork;
  readonly #settings: SocketRegistryOptions['settings'];

  constructor(options: SocketRegistryOptions) {
    this.manager = options.manager;
    this.#runner = options.runner;
    this.#work = options.work;
    this.#settings = options.settings;
  }

  /** Every connection, served or not yet. */
  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  get muxes(): ReadonlySet<MuxSocket> {
    return this.#muxes;
  }

  addConnection(connection: Connection): void {
    this.#connections.add(connection);
  }

  addMux(mux: MuxSocket): void {
    this.#muxes.add(mux);
  }

  /** A shared socket closed (its channels have been told). */
  muxClosed(mux: MuxSocket): void {
    this.#muxes.delete(mux);
    if (this.#muxes.size === 0) this.#work.notify();
  }

  /** Real sockets serving at least one session: a tab's own, or a shared one. */
  get connectionCount(): number {
    let open = 0;
    for (const connection of this.#connections) {
      if (connection.open && !(connection.ws instanceof Channel)) open += 1;
    }
    return open + this.sharedSocketCount;
  }

  get sharedSocketCount(): number {
    let open = 0;
    for (const mux of this.#muxes) if (mux.authenticatedCount > 0) open += 1;
    return open;
  }

  get channelCount(): number {
    let open = 0;
    for (const mux of this.#muxes) open += mux.authenticatedCount;
    return open;
  }

  socketCount(sessionId: string): number {
    return this.#sessions.of(sessionId).filter((connection) => connection.open).length;
  }

  /** Sends `text` on every served connection. */
  broadcast(text: string): void {
    for (const connection of this.#connections) {
      if (connection.open && connection.ws.readyState === SocketState.OPEN) connection.send(text);
    }
  }

  /** The heartbeat pings real sockets only: a shared socket's pong counts for its channels. */
  heartbeatPeers(): Iterable<HeartbeatPeer> {
    const connections = this.#connections;
    const muxes = this.#muxes;
    return {
      *[Symbol.iterator]() {
        for (const connection of connections) {
          if (!(connection.ws instanceof Channel)) yield connection;
        }
        yield* muxes;
      },
    };
  }

  /** Follows the manager's ended and rotated sessions until `unwatch`. */
  watch(): void {
    this.manager.on('deleted', this.#onSessionEnded);
    this.manager.on('expired', this.#onSessionEnded);
    this.manager.on('rotated', this.#onSessionRotated);
  }

  unwatch(): void {
    this.manager.off('deleted', this.#onSessionEnded);
    this.manager.off('expired', this.#onSessionEnded);
    this.manager.off('rotated', this.#onSessionRotated);
  }

  // ConnectionHost

  register(connection: Connection): void {
    if (connection.sessionId !== undefined) this.#sessions.add(connection.sessionId, connection);
  }

  unregister(connection: Connection): void {
    settle(connection);
    this.#connections.delete(connection);
    if (connection.sessionId !== undefined) this.#sessions.remove(connection.sessionId, connection);
    if (this.#connections.size === 0) this.#work.notify();
  }

  activity(connection: Connection): void {
    const { sessionId } = connection;
    const now = performance.now();
    if (
      sessionId === undefined ||
      !this.#sessions.dueForTouch(sessionId, now, this.#settings.touchIntervalMs)
    ) {
      return;
    }
    // A session gone from the store while this node heard nothing (its notice
    // was published while the node's pub/sub connection was down): the next
    // activity finds out and ends the session's sockets, as the notice would have.
    const touched = this.manager.touch(sessionId).then((session) => {
      if (session === undefined && this.manager.rotatedTo(sessionId) === undefined) {
        this.#onSessionEnded({ sessionId, origin: 'remote' });
      }
    });
    this.#work.track(touched);
  }

  release(connection: Connection): void {
    if (connection.sessionId !== undefined) {
      this.#work.track(this.manager.removeConnection(connection.sessionId));
    }
  }

  serve(connection: Connection): Served {
    settle(connection);
    if (connection.ws instanceof Channel) connection.ws.authenticate();
    const handler = new TrpcHandler(connection, this.#runner);
    // Only the app's createContext reads them, and it has by now.
    connection.connectionParams = null;
    return handler;
  }

  // Sessions

  readonly #onSessionEnded = ({ sessionId }: SessionEndedEvent): void => {
    for (const connection of this.#sessions.of(sessionId)) {
      // A call in flight (often the `session.delete` itself) answers first, within a grace period.
      if (connection.endAfterCalls(CloseCode.SESSION_NOT_FOUND, ErrorCode.SESSION_NOT_FOUND)) {
        this.#work.later(this.#settings.endGraceMs, () => connection.flushEnd());
      }
    }
  };

  /** A rotated session's sockets stay open and move to the new id (counted there). */
  readonly #onSessionRotated = ({ sessionId, newSessionId }: SessionRotatedEvent): void => {
    for (const connection of this.#sessions.of(sessionId)) {
      this.#sessions.remove(sessionId, connection);
      connection.sessionId = newSessionId;
      this.#sessions.add(newSessionId, connection);
      // Calls from now on run as the new session, before its count is moved.
      if (connection.session !== undefined) {
        connection.session = { ...connection.session, sessionId: newSessionId };
      }
      if (!connection.counted) continue;
      const moved = this.manager
        .removeConnection(sessionId)
        .then(() => this.manager.addConnection(newSessionId))
        .then(
          (session) => {
            connection.session = session;
          },
          () => connection.end(CloseCode.SESSION_NOT_FOUND, ErrorCode.SESSION_NOT_FOUND),
        );
      this.#work.track(moved);
    }
  };
}

/** Gives back the connection's place among its address's unauthenticated sockets, once. */
function settle(connection: Connection): void {
  connection.settle?.();
  connection.settle = undefined;
}
