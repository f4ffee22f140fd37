import { type ClientConfig, NO_WEBSOCKET } from './client-config.js';
import { ClientSocket } from './client-socket.js';
import type { ClientConnection, ConnectionCarrier } from './connection.js';
import type { Emitter } from './emitter.js';
import { httpStatusOf, isNetworkError, type SessionClientError } from './errors.js';
import type { ClientLifetime } from './lifetime.js';
import type { SessionLinkDeps } from './links.js';
import type { SessionClientEvents, TransportEvent, TransportKind } from './session-events.js';
import type { SessionCalls, SessionLifecycle } from './session-lifecycle.js';
import type { SharedSocket } from './shared/shared-socket.js';
import type { SseTransport } from './sse.js';
import { type TransportControl, websocketOnly } from './transport-control.js';

/** What {@link ClientTransports} works with besides the client's config. */
export interface ClientTransportsDeps {
  emitter: Emitter<SessionClientEvents>;
  lifetime: ClientLifetime;
  connection: ClientConnection;
  /** The session's keeper and calls: made after the links, which the tRPC client needs first. */
  session: () => SessionLifecycle;
  /** What the links send as the session, and do when it changes. */
  calls: SessionCalls;
  /** With `connection: 'shared'`: the browser's one socket. */
  shared: SharedSocket | undefined;
  /** The server refused the connection for good, or reconnects gave up: the client closes. */
  fail: (error: SessionClientError) => void;
}

/**
 * What carries the client's calls and subscriptions: the WebSocket
 * ({@link ClientSocket}) or SSE streams ({@link SseTransport}), as the
 * {@link TransportController} decides by the `transport` option, and the
 * dependencies of the client's tRPC links over them. It carries the
 * connection ({@link ConnectionCarrier}): over WebSocket the socket, over
 * SSE the session's event stream.
 */
export class ClientTransports implements ConnectionCarrier {
  readonly #controller: TransportControl;
  /** With `sseTransport()`: the SSE streams. */
  readonly #sse: SseTransport | undefined;
  readonly socket: ClientSocket;
  /** What `createSessionLinks` needs; the same for every `links()`. */
  readonly linkDeps: SessionLinkDeps;
  readonly #config: ClientConfig;
  readonly #deps: ClientTransportsDeps;

  constructor(config: ClientConfig, deps: ClientTransportsDeps) {
    this.#config = config;
    this.#deps = deps;
    const { connection, lifetime } = deps;
    const closed = () => lifetime.closed;
    const sse = config.transport === 'websocket' ? undefined : config.transport;
    this.#controller =
      sse?.controller(config.transportFallback, config.webSocket() !== undefined, {
        httpWorks: () => this.#httpWorks(),
        onChange: (event) => this.#onChange(event),
        tryWebSocket: () => void this.socket.client(),
        dropTrialSocket: () => this.socket.retire(),
        closed,
      }) ?? websocketOnly;
    this.#sse = sse?.sse({
      url: config.urls.trpcHttp,
      fetch: config.fetch,
      scheduler: connection.scheduler,
      keeper: () => deps.session().keeper,
      signal: lifetime.signal,
      hooks: {
        onConnected: () => this.#onSseConnected(),
        onLost: (error) => {
          if (this.current === 'sse') connection.lost(error);
        },
        onFatal: (error) => {
          if (this.current === 'sse') deps.fail(error);
        },
        // A subscription before `connect()` connects, as over the socket.
        onStream: () => connection.connectIfIdle(),
        onIdle: () => {
          if (this.current === 'sse' && connection.status !== 'connected') this.#sse?.connect();
        },
        closed,
      },
    });
    this.socket = new ClientSocket({
      url: config.urls.trpcWs,
      webSocket: config.webSocket,
      connection,
      transport: this.#controller,
      session: deps.session,
      shared: deps.shared,
      lifetime,
      fail: deps.fail,
      trial: sse?.trial,
      encoder: config.idempotencyKeys?.encoder,
      lazy: config.lazy,
    });
    this.linkDeps = this.#linkDeps();
  }

  /** The transport subscriptions use now. */
  get current(): TransportKind {
    return this.#controller.current;
  }

  open(): void {
    if (this.#sse !== undefined && this.current === 'sse') {
      this.#sse.connect();
      return;
    }
    this.socket.client();
  }

  get isOpen(): boolean {
    return this.#sse !== undefined && this.current === 'sse' ? this.#sse.open : this.socket.open;
  }

  get lastError(): SessionClientError | undefined {
    return this.#sse !== undefined && this.current === 'sse'
      ? this.#sse.lastError
      : this.socket.lastError;
  }

  reopen(): void {
    if (this.current === 'sse') this.#sse?.connect();
  }

  refusal(): Error | undefined {
    const needed = this.#controller.mode === 'websocket';
    return needed && this.#config.webSocket() === undefined
      ? new TypeError(NO_WEBSOCKET)
      : undefined;
  }

  /**
   * Stops the fallback's timers and the SSE streams, and closes the socket:
   * its reconnects stop at once, its close is what the promise waits for.
   */
  close(): Promise<void> | undefined {
    this.#controller.close();
    this.#sse?.close();
    return this.socket.close();
  }

  #linkDeps(): SessionLinkDeps {
    const config = this.#config;
    const { calls, shared } = this.#deps;
    const controller = this.#controller;
    const sse = this.#config.transport === 'websocket' ? undefined : this.#config.transport;
    const streams = this.#sse;
    return {
      httpUrl: config.urls.trpcHttp,
      fetch: config.fetch,
      options: config.http,
      ...calls,
      wsClient: () => this.socket.client(),
      useSocket: () => this.socket.use(),
      idempotencyKeys: config.idempotencyKeys,
      // Shared: calls go over the browser's one socket, while the client is on it.
      callsOverSocket: () => shared !== undefined && controller.current === 'websocket',
      subscriptions:
        sse === undefined || streams === undefined
          ? undefined
          : {
              current: () => controller.current,
              onSwitch: (listener) => controller.onSwitch(listener),
              sseLink: () => streams.link(),
              switchLink: sse.switchLink,
            },
    };
  }

  /** `transport: 'auto'` moved: subscriptions have moved already; retire what carried them. */
  #onChange(event: TransportEvent): void {
    if (event.transport === 'sse') {
      this.socket.retire();
      this.#sse?.connect();
    } else {
      this.#sse?.close();
    }
    this.#deps.emitter.emit('transport', event);
  }

  #onSseConnected(): void {
    const sessionId = this.#deps.session().keeper.id;
    if (this.current !== 'sse' || sessionId === undefined) return;
    this.#deps.connection.connected(sessionId);
  }

  /** True when the server answers HTTP now (any answer: only a network failure says no). */
  async #httpWorks(): Promise<boolean> {
    const { keeper, api } = this.#deps.session();
    const id = keeper.id;
    try {
      if (id === undefined) await keeper.ensure();
      else await api.get(id);
      return true;
    } catch (error) {
      return !isNetworkError(error) && httpStatusOf(error) !== undefined;
    }
  }
}
