import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyRouter, inferRouterContext } from '@trpc/server';
import { TRPCError } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { procedureClass } from '../capacity/request-class.js';
import {
  CapacityError,
  ErrorCode,
  errorCodeInfo,
  MorganError,
  RateLimitedError,
  toMorganError,
} from '../errors.js';
import type { SessionEndedEvent, SessionManager, SessionRotatedEvent } from '../manager.js';
import { CloseCode } from '../protocol.js';
import type { MorganContext } from '../trpc/context.js';
import { batchTooLargeMessage, errorEnvelope } from '../trpc/error-envelope.js';
import { type BufferedMessage, Connection, type ConnectionHost } from './connection.js';
import { type EventSocket, SessionEventsServer, SocketEvents } from './event-subscriptions.js';
import { Heartbeat, type HeartbeatPeer } from './heartbeat.js';
import { type BatchLimit, withMessageIdempotencyKeys } from './idempotency-keys.js';
import { isMuxRequest, type MuxHost, MuxSocket } from './mux.js';
import {
  type AttachWebSocketOptions,
  type CloseWebSocketOptions,
  resolveSettings,
  type WebSocketSettings,
} from './options.js';
import { PendingWork } from './pending-work.js';
import { SessionSockets } from './session-sockets.js';
import { currentChannel, SharedChannel, SharedTrpc } from './shared-trpc.js';
import {
  compileUpgradeOriginCheck,
  rejectUpgrade,
  upgradeListener,
  withoutConnectionParamsFlag,
} from './upgrade.js';
import { VirtualSocket } from './virtual-socket.js';

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
  readonly #byWs = new WeakMap<WebSocket, Connection>();
  /** Shared sockets open (a channel knows its own: `muxOf`). */
  readonly #muxes = new Set<MuxSocket>();
  readonly #sessions = new SessionSockets<Connection>();
  readonly #work = new PendingWork();
  readonly #createContext: AttachWebSocketOptions<TRouter>['createContext'];
  readonly #clientAddress: (req: IncomingMessage) => string | undefined;
  /** Batches over `maxBatchSize` are answered here, none run, whatever tRPC's own support. */
  readonly #batchLimit: BatchLimit;
  /** Sockets per client address that have not authenticated yet. */
  readonly #pendingByAddress = new Map<string, number>();
  /** Gives back a socket's place among its address's unauthenticated ones. */
  readonly #pendingSettle = new WeakMap<Connection, () => void>();
  /** Serves Morgan's `session.events` itself; undefined when the router has not got it. */
  readonly #events: SessionEventsServer | undefined;
  /**
   * The one tRPC connection of each shared socket, when the app has no
   * `createContext` of its own (else each channel gets its own, with its
   * connectionParams).
   */
  readonly #sharedTrpc = new WeakMap<MuxSocket, SharedTrpc>();
  /** The socket being handed to tRPC now, which gets the context tRPC makes for it. */
  #adopting: SocketEvents | undefined;
  /** The context of every shared socket's tRPC connection, once made. */
  #shared: Promise<MorganContext> | undefined;
  #inFlight = 0;
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
    this.#createContext = createContext;
    this.#clientAddress = clientAddress ?? ((req) => req.socket.remoteAddress);
    this.#settings = resolveSettings(rest);
    this.#batchLimit = batchLimitOf(router, this.#settings.maxBatchSize);
    this.manager = manager;
    this.#server = server;
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
    const reportError =
      onError === undefined
        ? undefined
        : (info: Parameters<typeof onError>[0]) => {
            // tRPC reports a frame `ws` refused (invalid UTF-8, reserved
            // bits, an unmasked frame) as an internal error; it is the
            // client's, and the socket already closes with its code.
            if (isFrameError(info.error.cause)) return;
            onError(info);
          };
    this.#events = SessionEventsServer.for(router, {
      manager,
      maxBatchSize: this.#settings.maxBatchSize,
      onError: reportError as ((info: unknown) => void) | undefined,
    });
    applyWSSHandler<TRouter>({
      wss: this.wss,
      router,
      maxBatchSize: this.#settings.maxBatchSize,
      createContext: ({ res }) => {
        if (res instanceof SharedTrpc) return this.#sharedContext() as never;
        const context = this.#context(res);
        if (this.#adopting?.ws === (res as object)) this.#adopting.context = context;
        return context as Promise<inferRouterContext<TRouter>>;
      },
      ...(reportError === undefined ? {} : { onError: reportError }),
    });
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
      if (connection.open && muxOf(connection.ws) === undefined) open += 1;
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
    for (const { ws, open } of this.#connections) {
      if (open && ws.readyState === WebSocket.OPEN) ws.send(RECONNECT_NOTIFICATION);
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
    this.#pendingSettle.get(connection)?.();
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

  handOff(connection: Connection, buffered: readonly BufferedMessage[]): void {
    this.#pendingSettle.get(connection)?.();
    this.#pendingSettle.delete(connection);
    const { ws, req } = connection;
    const url = withoutConnectionParamsFlag(req.url);
    if (url !== undefined) req.url = url;
    const mux = muxOf(ws);
    mux?.authenticated(ws as unknown as VirtualSocket);
    if (mux !== undefined && this.#createContext === undefined) {
      this.#handOffChannel(mux, connection, buffered);
      return;
    }
    this.#byWs.set(ws, connection);
    // tRPC's listeners read the idempotency keys of the messages they handle.
    const emit = () =>
      withMessageIdempotencyKeys(ws, () => this.wss.emit('connection', ws, req), this.#batchLimit);
    if (this.#events === undefined) emit();
    else {
      // `session.events` is served by `#events` (in tRPC's wire format),
      // everything else by tRPC: it wraps the listeners tRPC adds meanwhile.
      this.#events.adopt(ws as unknown as EventSocket, req, (socket) => {
        this.#adopting = socket;
        try {
          emit();
        } finally {
          this.#adopting = undefined;
        }
      });
    }
    for (const [data, isBinary] of buffered) ws.emit('message', data, isBinary);
  }

  // MuxHost

  openChannel(mux: MuxSocket, socket: VirtualSocket): void {
    // An unauthenticated channel counts as an unauthenticated socket of its address.
    const settle = this.#takePendingPlace(mux.req);
    if (settle === undefined) {
      socket.close(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED);
      return;
    }
    const ws = socket as unknown as WebSocket;
    const connection = new Connection(ws, mux.req, this, this.#settings);
    this.#pendingSettle.set(connection, settle);
    this.#connections.add(connection);
    if (this.#closing !== undefined) connection.end(CloseCode.GOING_AWAY, 'SHUTTING_DOWN');
  }

  muxClosed(mux: MuxSocket): void {
    this.#sharedTrpc.get(mux)?.closed();
    this.#muxes.delete(mux);
    if (this.#muxes.size === 0) this.#work.notify();
  }

  // Internals

  /**
   * A channel of a shared socket: `session.events` served on the channel
   * itself, every other message by its shared socket's one tRPC connection,
   * as the channel's session (see {@link SharedTrpc}).
   */
  #handOffChannel(mux: MuxSocket, connection: Connection, buffered: readonly BufferedMessage[]) {
    // Only an app's own createContext reads them.
    connection.connectionParams = null;
    const events =
      this.#events === undefined
        ? undefined
        : new SocketEvents(this.#events, connection.ws as unknown as EventSocket, connection.req);
    if (events !== undefined) events.context = this.#sharedContext();
    const channel = new SharedChannel(connection, this.#sharedTrpcOf(mux), events);
    (connection.ws as unknown as VirtualSocket).listen(channel);
    for (const [data, isBinary] of buffered) channel.received(data as RawData, isBinary);
  }

  /** The shared socket's tRPC connection, handed to tRPC on its first channel. */
  #sharedTrpcOf(mux: MuxSocket): SharedTrpc {
    let trpc = this.#sharedTrpc.get(mux);
    if (trpc !== undefined) return trpc;
    trpc = new SharedTrpc();
    this.#sharedTrpc.set(mux, trpc);
    const socket = trpc as unknown as WebSocket;
    withMessageIdempotencyKeys(
      socket,
      () => this.wss.emit('connection', socket, mux.req),
      this.#batchLimit,
    );
    return trpc;
  }

  /**
   * The context of a shared socket's tRPC connection (and its channels'
   * `session.events`), made once per layer: its fields read the channel
   * whose message is being handled ({@link currentChannel}).
   */
  #sharedContext(): Promise<MorganContext> {
    this.#shared ??= Promise.resolve(this.#channelContext());
    return this.#shared;
  }

  #channelContext(): MorganContext {
    const layer = this;
    const current = (): Connection => {
      const connection = currentChannel.getStore();
      if (connection === undefined) {
        throw new MorganError(ErrorCode.SESSION_REQUIRED, 'Socket has no session');
      }
      return connection;
    };
    return {
      manager: this.manager,
      get session() {
        return currentChannel.getStore()?.session;
      },
      transport: 'ws',
      get clientAddress() {
        const connection = currentChannel.getStore();
        return connection === undefined ? undefined : layer.#clientAddress(connection.req);
      },
      runCall: (call, path) => this.#runCall(current(), call, path),
      openSubscription: () => {
        const release = current().openSubscription();
        if (release === undefined) {
          throw new RateLimitedError('This socket has too many subscriptions');
        }
        return release;
      },
    };
  }

  /** The heartbeat pings real sockets only: a shared socket's pong counts for its channels. */
  #heartbeatPeers(): Iterable<HeartbeatPeer> {
    const connections = this.#connections;
    const muxes = this.#muxes;
    return {
      *[Symbol.iterator]() {
        for (const connection of connections)
          if (muxOf(connection.ws) === undefined) yield connection;
        yield* muxes;
      },
    };
  }

  /**
   * Upgrades the request unless its address holds its share of sockets that
   * have not authenticated yet; the share is taken until the socket is
   * handed to tRPC or closes, whichever comes first.
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
      this.#pendingSettle.set(connection, settle);
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

  /**
   * The socket's context, made once per socket by tRPC: Morgan's fields
   * (`session` read live, so it follows a rotation) over the app's own.
   */
  async #context(ws: WebSocket): Promise<MorganContext> {
    const connection = this.#byWs.get(ws);
    if (connection?.session === undefined) {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Socket is not authenticated' });
    }
    const morgan: MorganContext = {
      manager: this.manager,
      get session() {
        return connection.session;
      },
      transport: 'ws',
      clientAddress: this.#clientAddress(connection.req),
      runCall: (call, path) => this.#runCall(connection, call, path),
      openSubscription: () => {
        const release = connection.openSubscription();
        if (release === undefined) {
          throw new RateLimitedError('This socket has too many subscriptions');
        }
        return release;
      },
    };
    if (this.#createContext === undefined) return morgan;
    try {
      const app = await this.#createContext({
        req: connection.req,
        connectionParams: connection.connectionParams,
      });
      return Object.defineProperties(
        { ...app },
        Object.getOwnPropertyDescriptors(morgan),
      ) as MorganContext;
    } catch (error) {
      // tRPC would close with no code (1005); say why instead.
      const { code } = toMorganError(error);
      connection.end(errorCodeInfo[code].wsCloseCode, code);
      throw error;
    }
  }

  /**
   * One call over a socket: admitted by node capacity (`session.*` calls as
   * session control), tracked on the session, drained on close.
   */
  async #runCall<T>(connection: Connection, call: () => Promise<T>, path: string): Promise<T> {
    const { sessionId } = connection;
    if (this.#closing !== undefined) {
      throw new MorganError(ErrorCode.SHUTTING_DOWN);
    }
    if (sessionId === undefined)
      throw new MorganError(ErrorCode.SESSION_REQUIRED, 'Socket has no session');
    const capacity = this.manager.capacity;
    if (!(await capacity.acquire(procedureClass(path)))) throw new CapacityError(1);
    const startedAt = capacity.now();
    connection.callStarted();
    this.#inFlight += 1;
    try {
      return await this.manager.trackRequest(sessionId, call);
    } finally {
      capacity.release(startedAt);
      this.#inFlight -= 1;
      // A deferred close waits for this answer, which is sent before the next macrotask.
      if (connection.callEnded()) this.#work.later(0, () => connection.flushEnd());
      if (this.#inFlight === 0) this.#work.notify();
    }
  }

  async #close(code: number, drainTimeoutMs: number): Promise<void> {
    await this.#work.waitFor(() => this.#inFlight === 0, drainTimeoutMs);
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

/** An error `ws` raised for a frame it could not accept (its codes start with `WS_ERR_`). */
function isFrameError(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('WS_ERR_');
}

/** The shared socket that carries `ws`, when it is a channel of one. */
function muxOf(ws: object): MuxSocket | undefined {
  return ws instanceof VirtualSocket ? (ws.carrier as MuxSocket) : undefined;
}

/** The answer to a batch of more than `max` calls: tRPC's error envelope, 400 `INVALID_REQUEST`. */
function batchLimitOf(router: AnyRouter, max: number): BatchLimit {
  const error = new MorganError(ErrorCode.INVALID_REQUEST, batchTooLargeMessage(max));
  const text = JSON.stringify({ id: null, ...errorEnvelope(router, error, 'unknown') });
  return { maxBatchSize: max, answer: (socket) => socket.send(text) };
}
