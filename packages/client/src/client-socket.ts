import type { TRPCWebSocketClient } from '@trpc/client';
import { NO_WEBSOCKET } from './client-config.js';
import type { ClientConnection } from './connection.js';
import { ClientErrorCode, clientClosedError, SessionClientError } from './errors.js';
import type { ClientSocketEncoder } from './idempotency-key.js';
import type { ClientLifetime } from './lifetime.js';
import type { LazyOptions } from './options.js';
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
  /** The `lazy` option: close the socket when idle, open it again on use. */
  lazy: LazyOptions;
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
  /** Subscriptions and calls over the socket now (`lazy`: the socket stays open while any). */
  #users = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** `lazy`: the socket closed while idle; the next use opens one again. */
  #asleep = false;

  constructor(deps: ClientSocketDeps) {
    this.#deps = deps;
  }

  /** The socket in use, if one was made and not retired. */
  get current(): SessionSocket | undefined {
    return this.#socket;
  }

  /** True while a socket is open, or (`lazy`) closed while idle, to open again on use. */
  get open(): boolean {
    return this.#asleep || this.#socket?.open === true;
  }

  /**
   * A subscription or call over the socket starts; the function returned
   * says it ended. With `lazy`, the socket closes `closeMs` after the last
   * one ended.
   */
  use(): () => void {
    this.#users += 1;
    clearTimeout(this.#idleTimer);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#users -= 1;
      this.#idleSoon();
    };
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
    clearTimeout(this.#idleTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    void socket?.close().catch(() => {});
    this.#trial?.end();
    this.#trial = undefined;
  }

  /** Stops reconnecting (synchronously) and closes the socket, if there is one. */
  close(): Promise<void> | undefined {
    clearTimeout(this.#idleTimer);
    this.#asleep = false;
    return this.#socket?.close();
  }

  /** `lazy`: with nothing over the socket, it closes after `closeMs`. */
  #idleSoon(): void {
    const { lazy, lifetime } = this.#deps;
    if (!lazy.enabled || this.#users > 0 || lifetime.closed) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#sleep(), lazy.closeMs);
  }

  /** `lazy`: closes the idle socket; the session stays, its heartbeats pause. */
  #sleep(): void {
    const socket = this.#socket;
    if (this.#users > 0 || this.#deps.lifetime.closed || socket?.open !== true) return;
    this.#socket = undefined;
    this.#asleep = true;
    this.#deps.session().pauseHeartbeats();
    void socket.close().catch(() => {});
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
        if (this.#asleep) {
          this.#asleep = false;
          this.#deps.session().resumeHeartbeats();
        }
        this.#idleSoon();
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
