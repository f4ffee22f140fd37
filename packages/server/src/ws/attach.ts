import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../errors.js';
import type { SessionEndedEvent, SessionManager, SessionRotatedEvent } from '../manager.js';
import { CloseCode } from '../protocol.js';
import { CallRunner } from './calls.js';
import { Channel } from './channel.js';
import { Connection, type ConnectionHost, type Served } from './connection.js';
import { Heartbeat, type HeartbeatPeer } from './heartbeat.js';
import { isMuxRequest, type MuxHost, MuxSocket } from './mux.js';
import {
  type AttachWebSocketOptions,
  type CloseWebSocketOptions,
  resolveSettings,
  type WebSocketErrorInfo,
  type WebSocketSettings,
} from './options.js';
import { PendingWork } from './pending-work.js';
import { SessionSockets } from './session-sockets.js';
import { listen, SocketState } from './socket.js';
import { TrpcHandler } from './trpc-handler.js';
import { compileUpgradeOriginCheck, rejectUpgrade, upgradeListener } from './upgrade.js';

/** What `attachWebSocket` returns. */
export interface WebSocketAttachment {
  /** The underlying `ws` server (`noServer`, fed by the HTTP server's `upgrade`). */
  readonly wss: WebSocketServer;
  /**
   * Real sockets open on this node that serve at least one authenticated
   * session: a tab's own socket, or a shared socket (`?mux=1`) carrying the
   * channels of a browser's tabs.
   */
  readonly connectionCount: number;
  /** Shared sockets (`connection: 'shared'` in the SDK) with at least one authenticated channel. */
  readonly sharedSocketCount: number;
  /** Authenticated channels of shared sockets: one per tab, each with its own session. */
  readonly channelCount: number;
  /** Sockets of one session open on this node. */
  socketCount(sessionId: string): number;
  /** Asks every client to reconnect (tRPC's reconnect notification), e.g. before a deploy. */
  broadcastReconnectNotification(): void;
  /**
   * Stops accepting sockets, lets calls in flight finish (up to
   * `drainTimeoutMs`), closes every socket with 1001, then the server.
   * Later calls return the same promise.
   */
  close(options?: CloseWebSocketOptions): Promise<void>;
}

const RECONNECT_NOTIFICATION = JSON.stringify({ id: null, method: 'reconnect' });

/**
 * Serves the app's tRPC router over WebSocket on the same HTTP server, at
 * `/trpc`. Each socket authenticates with tRPC `connectionParams`
 * `{ sessionId }` (4400 when missing or malformed, 4404 when unknown), is
 * counted on its session while open, is pinged every `heartbeatIntervalMs`
 * and closed with 4404 as soon as its session is deleted or expires on any
 * node.
 *
 * @example
 * const server = app.listen(3000);
 * const ws = attachWebSocket(server, { manager, router: appRouter });
 * shutdown.onShutdown(() => ws.close());
 * // client: createWSClient({ url: 'ws://host/trpc', connectionParams: () => ({ sessionId }) })
 */
export function attachWebSocket<TRouter extends AnyRouter>(
  server: Server,
  options: AttachWebSocketOptions<TRouter>,
): WebSocketAttachment {
  return new WebSocketLayer(server, options);
}

class WebSocketLayer<TRouter extends AnyRouter>
  implements WebSocketAttachment, ConnectionHost, MuxHost
{
  readonly wss: WebSocketServer;
  readonly manager: SessionManager;
  readonly #server: Server;
  readonly #settings: WebSocketSettings;
  readonly #onUpgrade: ReturnType<typeof upgradeListener>;
  readonly #heartbeat: Heartbeat;
  readonly #connections = new Set<Connection>();
  /** Shared sockets open (a channel knows its own). */
  readonly #muxes = new Set<MuxSocket>();
  readonly #sessions = new SessionSockets<Connection>();
  readonly #work = new PendingWork();
  readonly #calls: CallRunner;
  readonly #clientAddress: (req: IncomingMessage) => string | undefined;
  /** Sockets per client address that have not authenticated yet. */
  readonly #pendingByAddress = new Map<string, number>();
  #closing: Promise<void> | undefined;

  constructor(server: Server, options: AttachWebSocketOptions<TRouter>) {
    const {
      manager,
      router,
      allowedOrigins,
      onError,
      createContext,
      clientAddress,
      requestHost,
      ...rest
    } = options;
    this.#clientAddress = clientAddress ?? ((req) => req.socket.remoteAddress);
    this.#settings = resolveSettings(rest);
    this.manager = manager;
    this.#server = server;
    this.#calls = new CallRunner({
      manager,
      router,
      maxBatchSize: this.#settings.maxBatchSize,
      createContext,
      // Reported with the context this router's calls run with.
      onError: onError && ((info) => onError(info as WebSocketErrorInfo<TRouter>)),
      clientAddress: this.#clientAddress,
      work: this.#work,
    });
    this.#onUpgrade = upgradeListener({
      server,
      path: this.#settings.path,
      originAllowed: compileUpgradeOriginCheck(
        allowedOrigins ?? manager.allowedOrigins,
        requestHost ?? ((req) => req.headers.host),
      ),
      closing: () => this.#closing !== undefined,
      accept: (req, socket, head) => this.#accept(req, socket, head),
    });
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.#settings.maxPayload,
    });
    // Handshake errors (bad version, key, …) get the same JSON error bodies as HTTP.
    this.wss.on('wsClientError', (error, socket) =>
      rejectUpgrade(socket, ErrorCode.INVALID_REQUEST, error.message),
    );
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = this.#settings;
    this.#heartbeat = new Heartbeat(
      this.#heartbeatPeers(),
      heartbeatIntervalMs,
      heartbeatTimeoutMs,
    );
    this.#heartbeat.start();
    server.on('upgrade', this.#onUpgrade);
    manager.on('deleted', this.#onSessionEnded);
    manager.on('expired', this.#onSessionEnded);
    manager.on('rotated', this.#onSessionRotated);
  }

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

  broadcastReconnectNotification(): void {
    for (const connection of this.#connections) {
      if (connection.open && connection.ws.readyState === SocketState.OPEN) {
        connection.send(RECONNECT_NOTIFICATION);
      }
    }
  }

  close(options: CloseWebSocketOptions = {}): Promise<void> {
    this.#closing ??= this.#close(
      options.code ?? CloseCode.GOING_AWAY,
      options.drainTimeoutMs ?? this.manager.drainTimeoutMs,
    );
    return this.#closing;
  }

  // ConnectionHost

  register(connection: Connection): void {
    if (connection.sessionId !== undefined) this.#sessions.add(connection.sessionId, connection);
  }

  unregister(connection: Connection): void {
    connection.settle?.();
    connection.settle = undefined;
    this.#connections.delete(connection);
    if (connection.sessionId !== undefined) this.#sessions.remove(connection.sessionId, connection);
    if (this.#connections.size === 0) this.#work.notify();
  }

  activity(connection: Connection): void {
    const { sessionId } = connection;
    const { touchIntervalMs } = this.#settings;
    if (
      sessionId === undefined ||
      !this.#sessions.dueForTouch(sessionId, performance.now(), touchIntervalMs)
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
    connection.settle?.();
    connection.settle = undefined;
    if (connection.ws instanceof Channel) connection.ws.authenticate();
    const handler = new TrpcHandler(connection, this.#calls);
    // Read by the app's createContext (made by now), by nothing else.
    connection.connectionParams = null;
    return handler;
  }

  // MuxHost

  openChannel(mux: MuxSocket, channel: Channel): void {
    // An unauthenticated channel counts as an unauthenticated socket of its address.
    const settle = this.#takePendingPlace(mux.req);
    if (settle === undefined) {
      channel.close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED);
      return;
    }
    const connection = new Connection(channel, mux.req, this, this.#settings);
    connection.settle = settle;
    channel.listen(connection);
    this.#connections.add(connection);
    if (this.#closing !== undefined) connection.end(CloseCode.GOING_AWAY, 'SHUTTING_DOWN');
  }

  muxClosed(mux: MuxSocket): void {
    this.#muxes.delete(mux);
    if (this.#muxes.size === 0) this.#work.notify();
  }

  // Internals

  /** The heartbeat pings real sockets only: a shared socket's pong counts for its channels. */
  #heartbeatPeers(): Iterable<HeartbeatPeer> {
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

  /**
   * Upgrades the request unless its address holds its share of sockets that
   * have not authenticated yet; the share is taken until the socket is
   * served or closes, whichever comes first.
   */
  #accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const settle = this.#takePendingPlace(req);
    if (settle === undefined) {
      rejectUpgrade(
        socket,
        ErrorCode.RATE_LIMITED,
        'Too many unauthenticated sockets from this address',
      );
      return;
    }
    socket.once('close', settle);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (isMuxRequest(req.url)) {
        const mux = new MuxSocket(ws, req, this, this.#settings);
        mux.settle = settle;
        this.#muxes.add(mux);
        if (this.#closing !== undefined) mux.end(CloseCode.GOING_AWAY, 'SHUTTING_DOWN');
        return;
      }
      const connection = new Connection(ws, req, this, this.#settings);
      connection.settle = settle;
      listen(ws, connection);
      this.#connections.add(connection);
      if (this.#closing !== undefined) connection.end(CloseCode.GOING_AWAY, 'SHUTTING_DOWN');
    });
  }

  /**
   * Takes a place among the unauthenticated sockets of the request's address
   * (a channel of a shared socket takes one too); returns its release (safe
   * to call twice), or undefined when the address holds its share already.
   */
  #takePendingPlace(req: IncomingMessage): (() => void) | undefined {
    const address = this.#clientAddress(req) ?? '';
    const pending = this.#pendingByAddress.get(address) ?? 0;
    if (pending >= this.#settings.maxPendingSocketsPerAddress) return undefined;
    this.#pendingByAddress.set(address, pending + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.#pendingByAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.#pendingByAddress.delete(address);
      else this.#pendingByAddress.set(address, left);
    };
  }

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

  async #close(code: number, drainTimeoutMs: number): Promise<void> {
    this.#calls.closing = true;
    await this.#work.waitFor(() => this.#calls.inFlight === 0, drainTimeoutMs);
    // The last answers are sent in the microtasks after their calls end.
    await new Promise((resolve) => setImmediate(resolve));
    for (const connection of this.#connections) connection.end(code, ErrorCode.SHUTTING_DOWN);
    const closed = await this.#work.waitFor(
      () => this.#connections.size === 0,
      this.#settings.closeTimeoutMs,
    );
    if (!closed) {
      for (const { ws } of this.#connections) ws.terminate();
      await this.#work.waitFor(() => this.#connections.size === 0, this.#settings.closeTimeoutMs);
    }
    // Shared sockets close once their channels have.
    for (const mux of this.#muxes) mux.end(code, ErrorCode.SHUTTING_DOWN);
    if (!(await this.#work.waitFor(() => this.#muxes.size === 0, this.#settings.closeTimeoutMs))) {
      for (const { ws } of this.#muxes) ws.terminate();
      await this.#work.waitFor(() => this.#muxes.size === 0, this.#settings.closeTimeoutMs);
    }
    this.#heartbeat.stop();
    this.#work.clear();
    this.#server.off('upgrade', this.#onUpgrade);
    this.manager.off('deleted', this.#onSessionEnded);
    this.manager.off('expired', this.#onSessionEnded);
    this.manager.off('rotated', this.#onSessionRotated);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await this.#work.settled();
  }
}
