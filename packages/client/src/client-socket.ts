import type { TRPCWebSocketClient } from '@trpc/client';
import { NO_WEBSOCKET } from './client-config.js';
import type { ClientConnection } from './connection.js';
import { ClientErrorCode, clientClosedError, SessionClientError } from './errors.js';
import type { ClientSocketEncoder } from './idempotency-key.js';
import type { ClientLifetime } from './lifetime.js';
import type { ReconnectScheduler } from './reconnect.js';
import type { SessionLifecycle } from './session-lifecycle.js';
import type { SharedSocket } from './shared/shared-socket.js';
import { SessionSocket, type SessionSocketHooks } from './socket.js';
import type { TransportControl } from './transport-control.js';
import type { TrialScheduler } from './trial-scheduler.js';

/** What a {@link ClientSocket} works with. */
export interface ClientSocketDeps {
  /** WebSocket URL of the tRPC endpoint. */
  url: string;
  /** The WebSocket implementation, given or the platform's; undefined without one. */
  webSocket: () => unknown;
  connection: ClientConnection;
  transport: TransportControl;
  /** With `sseTransport()`: the scheduler of a socket that tries the WebSocket again. */
  trial: ((main: ReconnectScheduler) => TrialScheduler) | undefined;
  /** With `idempotencyKeys()`: what stamps keyed mutations' messages. */
  encoder: ClientSocketEncoder | undefined;
  /** The session's keeper and calls (made after the links, which ask for the socket). */
  session: () => SessionLifecycle;
  /** With `connection: 'shared'`: the browser's one socket, which this client's socket goes through. */
  shared: SharedSocket | undefined;
  lifetime: ClientLifetime;
  /** The server refused the socket for good, or reconnects gave up: the client closes. */
  fail: (error: SessionClientError) => void;
}

/**
 * The client's WebSocket ({@link SessionSocket}), made on first use: by the
 * first `connect()` or subscription. With `transport: 'auto'` on SSE, a
 * socket that tries the WebSocket again is a trial, which reconnects by no
 * one's backoff until the server confirms it; a socket the client moves
 * away from is retired.
 */
export class ClientSocket {
  readonly #deps: ClientSocketDeps;
  #socket: SessionSocket | undefined;
  #trial: TrialScheduler | undefined;

  constructor(deps: ClientSocketDeps) {
    this.#deps = deps;
  }

  /** The socket in use, if one was made and not retired. */
  get current(): SessionSocket | undefined {
    return this.#socket;
  }

  /** True while a socket is open. */
  get open(): boolean {
    return this.#socket?.open === true;
  }

  /** Why the socket last failed. */
  get lastError(): SessionClientError | undefined {
    return this.#socket?.lastError;
  }

  /**
   * The tRPC WebSocket client, made now if there is none (connecting the
   * client first when it is idle).
   * @throws SessionClientError once the client is closed, or while it is on SSE.
   * @throws TypeError without any WebSocket implementation.
   */
  client(): TRPCWebSocketClient {
    const { lifetime, connection, transport } = this.#deps;
    if (lifetime.closed) throw clientClosedError();
    if (this.#socket === undefined) connection.connectIfIdle();
    if (this.#socket !== undefined) return this.#socket.client;
    if (transport.current === 'sse' && !transport.trying) {
      throw new SessionClientError(
        ClientErrorCode.NETWORK_ERROR,
        'The WebSocket is not in use: the client is on SSE',
      );
    }
    const WebSocketImpl = this.#deps.webSocket();
    if (WebSocketImpl === undefined) throw new TypeError(NO_WEBSOCKET);
    this.#socket = this.#create(WebSocketImpl);
    return this.#socket.client;
  }

  /** Closes the socket in use (the client moved to SSE, or a trial failed); the next one is new. */
  retire(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    void socket?.close().catch(() => {});
    this.#trial?.end();
    this.#trial = undefined;
  }

  /** Stops reconnecting (synchronously) and closes the socket, if there is one. */
  close(): Promise<void> | undefined {
    return this.#socket?.close();
  }

  #create(WebSocketImpl: unknown): SessionSocket {
    const { connection, transport, shared, lifetime } = this.#deps;
    let socket: SessionSocket | undefined;
    // A socket that tries the WebSocket again (on SSE) reconnects by no one's backoff until confirmed.
    const trial = transport.trying ? this.#deps.trial?.(connection.scheduler) : undefined;
    this.#trial = trial;
    const hooks: SessionSocketHooks = {
      onConnected: (session) => {
        trial?.promote();
        connection.connected(session.sessionId);
      },
      onLost: (error) => connection.lost(error),
      onFatal: (error) => this.#deps.fail(error),
      // A socket the client retired (it moved to SSE) stops where it is.
      closed: () => lifetime.closed || (socket !== undefined && this.#socket !== socket),
    };
    const { keeper, api } = this.#deps.session();
    socket = new SessionSocket({
      url: this.#deps.url,
      WebSocket: transport.watch(shared?.webSocket(WebSocketImpl) ?? WebSocketImpl),
      scheduler: trial ?? connection.scheduler,
      keeper,
      api,
      encoder: this.#deps.encoder,
      hooks: transport.socketHooks(hooks),
    });
    return socket;
  }
}
