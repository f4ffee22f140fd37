import {
  createTRPCClient,
  getUntypedClient,
  type TRPCClient,
  type TRPCLink,
  type TRPCWebSocketClient,
} from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { fullJitterBackoff } from './backoff.js';
import { Emitter } from './emitter.js';
import {
  ClientErrorCode,
  clientClosedError,
  httpStatusOf,
  isNetworkError,
  SessionClientError,
  serverErrorCode,
  toSessionClientError,
} from './errors.js';
import { EventStream, isGapEvent, type SessionEventHandler } from './events.js';
import { createSessionFetch, type SessionFetch } from './fetch.js';
import { HeartbeatTimer } from './heartbeat.js';
import { createSessionLinks, type SessionLinkDeps } from './links.js';
import { OnlineWatcher } from './online.js';
import {
  type FetchLike,
  httpRetryDefaults,
  reconnectDefaults,
  type SessionClientOptions,
  sessionClientDefaults,
  transportFallbackDefaults,
} from './options.js';
import { type CreateSessionInput, code, type SessionInfo } from './protocol.js';
import { ReconnectScheduler } from './reconnect.js';
import { SessionApi } from './session-api.js';
import type { SessionClientEvents, TransportEvent, TransportKind } from './session-events.js';
import { SessionKeeper } from './session-keeper.js';
import { SharedConnection, type SharedConnectionDeps } from './shared/hub.js';
import { SessionSocket, type SessionSocketHooks } from './socket.js';
import { SseTransport } from './sse.js';
import { type ConnectionState, ConnectionStateMachine, type ConnectionStatus } from './state.js';
import { defaultStorageOption, openSessionIdStore, type SessionIdStore } from './storage.js';
import { TransportController, TrialScheduler } from './transport.js';
import { type ClientUrls, resolveUrls } from './urls.js';

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * Also delete the session on the server and forget the stored id.
   * @default false
   */
  endSession?: boolean;
}

interface Waiter {
  resolve: (session: SessionInfo) => void;
  reject: (error: unknown) => void;
}

/**
 * A session-aware client for one Morgan server; see `createSessionClient`.
 *
 * One WebSocket carries subscriptions (or SSE streams, by the `transport`
 * option: `TransportController` decides, `SseTransport` runs them), HTTP
 * carries queries and mutations; all send the session id. The connection
 * state changes in one place (`ConnectionStateMachine`), driven by the
 * socket's (or the session stream's) open/close, the reconnect scheduler,
 * the browser's online/offline events and `close()`.
 *
 * Reconnects are `SessionSocket`'s (backoff, session replacement), the
 * session id is `SessionKeeper`'s; this class wires them to the state
 * machine, heartbeats, the event stream and the public API.
 */
export class SessionClient<TRouter extends AnyRouter> {
  /** The app's typed tRPC client; calls carry the session over HTTP and WebSocket. */
  readonly trpc: TRPCClient<TRouter>;
  /** `fetch` for plain routes, with `X-Session-Id` attached and 503/429 retried. */
  readonly fetch: SessionFetch;

  readonly #options: SessionClientOptions;
  readonly #urls: ClientUrls;
  readonly #emitter = new Emitter<SessionClientEvents>();
  readonly #machine: ConnectionStateMachine;
  readonly #ids: SessionIdStore;
  readonly #api: SessionApi;
  readonly #scheduler: ReconnectScheduler;
  readonly #heartbeat: HeartbeatTimer;
  readonly #events: EventStream;
  readonly #online: OnlineWatcher;
  readonly #lifetime = new AbortController();
  readonly #keeper: SessionKeeper;
  readonly #linkDeps: SessionLinkDeps;
  readonly #transport: TransportController;
  readonly #sse: SseTransport;
  #socket: SessionSocket | undefined;
  #trialScheduler: TrialScheduler | undefined;
  /** With `connection: 'shared'` (where supported): this tab's part in the browser's one socket. */
  #shared: SharedConnection | undefined;
  readonly #sharedSupport: Pick<SharedConnectionDeps, 'locks' | 'BroadcastChannel'> | undefined;
  #closing: Promise<void> | undefined;
  #waiters = new Set<Waiter>();

  constructor(options: SessionClientOptions) {
    this.#options = options;
    this.#urls = resolveUrls(options.url, options.trpcPath ?? sessionClientDefaults.trpcPath);
    const fetchImpl = resolveFetch(options.fetch);
    const reconnect = { ...reconnectDefaults, ...options.reconnect };
    const http = { ...httpRetryDefaults, ...options.http };
    this.#machine = new ConnectionStateMachine((state, previous) => this.#onState(state, previous));
    this.#ids = openSessionIdStore(
      options.storage ?? defaultStorageOption(),
      options.storageKey ?? sessionClientDefaults.storageKey,
    );
    const retryDelayMs = reconnect.delayMs ?? ((attempt) => fullJitterBackoff(attempt, reconnect));
    this.#scheduler = new ReconnectScheduler({
      delayMs: retryDelayMs,
      maxAttempts: reconnect.maxAttempts,
      onSchedule: (attempt, delayMs) => this.#onReconnectScheduled(attempt, delayMs),
    });
    this.#sharedSupport = options.connection === 'shared' ? sharedSupport(options) : undefined;
    const replaceSession = (sentId: string) => this.#keeper.replace(sentId, 'not-found');
    const rotateSession = (sentId: string, sessionId: string) => {
      this.#keeper.rotate(sentId, sessionId);
    };
    this.#linkDeps = {
      httpUrl: this.#urls.trpcHttp,
      fetch: fetchImpl,
      options: http,
      sessionId: () => this.#keeper.id,
      replaceSession,
      rotateSession,
      wsClient: () => this.#socketClient(),
      idempotencyKeys: options.idempotencyKeys ?? sessionClientDefaults.idempotencyKeys,
      // Shared: calls go over the browser's one socket, while the client is on it.
      callsOverSocket: () =>
        this.#sharedSupport !== undefined && this.#transport.current === 'websocket',
    };
    this.#transport = new TransportController(
      options.transport ?? sessionClientDefaults.transport,
      { ...transportFallbackDefaults, ...options.transportFallback },
      this.#webSocketImpl() !== undefined,
      {
        httpWorks: () => this.#httpWorks(),
        onChange: (event) => this.#onTransportChange(event),
        tryWebSocket: () => void this.#socketClient(),
        dropTrialSocket: () => this.#retireSocket(),
        closed: () => this.#closing !== undefined,
      },
    );
    this.#sse = new SseTransport({
      url: this.#urls.trpcHttp,
      fetch: fetchImpl,
      scheduler: this.#scheduler,
      // The keeper needs the tRPC client, which needs this transport's link.
      keeper: () => this.#keeper,
      signal: this.#lifetime.signal,
      hooks: {
        onConnected: () => this.#onSseConnected(),
        onLost: (error) => {
          if (this.#transport.current === 'sse') this.#onConnectionLost(error);
        },
        onFatal: (error) => {
          if (this.#transport.current === 'sse') void this.#fail(error);
        },
        // A subscription before `connect()` connects, as over the socket.
        onStream: () => {
          if (this.#machine.status === 'idle') void this.connect().catch(() => {});
        },
        onIdle: () => {
          if (this.#transport.current === 'sse' && this.#machine.status !== 'connected') {
            this.#sse.connect();
          }
        },
        closed: () => this.#closing !== undefined,
      },
    });
    if (this.#transport.mode !== 'websocket') {
      this.#linkDeps.subscriptions = {
        current: () => this.#transport.current,
        onSwitch: (listener) => this.#transport.onSwitch(listener),
        sseLink: () => this.#sse.link(),
      };
    }
    this.trpc = createTRPCClient<TRouter>({ links: this.links() });
    const untyped = getUntypedClient(this.trpc) as unknown as ConstructorParameters<
      typeof SessionApi
    >[0];
    this.#api = new SessionApi(untyped, this.#lifetime.signal);
    this.#keeper = new SessionKeeper(this.#api, this.#ids, createInput(options), {
      onSession: (session) => this.#emitter.emit('session', session),
      onReplaced: (event) => this.#emitter.emit('session-replaced', event),
      onRotated: (event) => {
        // The server moved the open socket to the new id: it stays open.
        this.#socket?.followRotation(event.previousSessionId, event.sessionId);
        this.#events.followRotation();
        this.#emitter.emit('session-rotated', event);
      },
      socketSession: async () => this.#socket?.currentSession(),
      closed: () => this.#closing !== undefined,
    });
    this.#heartbeat = new HeartbeatTimer({
      intervalMs: options.heartbeatIntervalMs ?? sessionClientDefaults.heartbeatIntervalMs,
      beat: () => this.#beat(),
      onBeat: (report) => this.#emitter.emit('heartbeat', report),
      onError: (error) => this.#onHeartbeatError(error),
    });
    this.#events = new EventStream(untyped, {
      onEvent: (event) => {
        this.#emitter.emit('event', event);
        if (isGapEvent(event)) this.#emitter.emit('gap', event);
      },
      onError: (error) => this.#emitter.emit('error', toSessionClientError(error)),
      retryDelayMs,
      onRotated: (sessionId) => {
        this.#keeper.rotate(this.#keeper.id, sessionId);
      },
    });
    this.#online = new OnlineWatcher(options.onlineEvents ?? sessionClientDefaults.onlineEvents, {
      online: () => this.#onOnline(),
      offline: () => this.#onOffline(),
    });
    this.fetch = createSessionFetch({
      fetch: fetchImpl,
      baseUrl: this.#urls.base,
      options: http,
      sessionId: () => this.#keeper.id,
      replaceSession,
      rotateSession,
      signal: this.#lifetime.signal,
    });
  }

  /**
   * The client's tRPC links, for an app that builds its own tRPC client (for
   * example with `@trpc/tanstack-react-query`): calls carry the session
   * (`X-Session-Id` over HTTP, the shared WebSocket for subscriptions),
   * 503/429 are retried by the client's rules, a lost session is replaced
   * and a rotated one followed, subscriptions resume after reconnects. A
   * client built on them behaves like {@link SessionClient.trpc} and shares
   * this client's session, socket and state; each call returns fresh links.
   *
   * For the session's own events prefer {@link subscribeEvents}, which also
   * moves the stream across a rotation; a raw `session.events` subscription
   * sees the `session.rotated` notice and then ends.
   *
   * @example
   * import { createTRPCClient } from '@trpc/client';
   * const client = createSessionClient<AppRouter>({ url: 'http://localhost:3000' });
   * const trpc = createTRPCClient<AppRouter>({ links: client.links() });
   * await client.connect();
   * await trpc.chat.send.mutate({ message: 'hi' });
   *
   * @example
   * // With TanStack Query: hand this client to `TRPCProvider`.
   * import { createTRPCContext } from '@trpc/tanstack-react-query';
   * export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
   * export const trpcClient = createTRPCClient<AppRouter>({ links: client.links() });
   */
  links(): TRPCLink<TRouter>[] {
    return createSessionLinks<TRouter>(this.#linkDeps);
  }

  /** The current session id; `undefined` until `connect()` resumed or created one. */
  get sessionId(): string | undefined {
    return this.#keeper.id;
  }

  /** The session as last reported by the server (on create, resume or replacement). */
  get session(): SessionInfo | undefined {
    return this.#keeper.session;
  }

  /** The connection state's name: `idle | connecting | connected | reconnecting | offline | closed`. */
  get state(): ConnectionStatus {
    return this.#machine.status;
  }

  /** The connection state with its details (attempt, error). */
  get connection(): ConnectionState {
    return this.#machine.state;
  }

  /**
   * The transport subscriptions use now: `'websocket'`, or `'sse'` (with
   * `transport: 'sse'`, or `'auto'` after WebSocket upgrades failed while
   * HTTP worked); `on('transport')` announces changes.
   */
  get transport(): TransportKind {
    return this.#transport.current;
  }

  /** Which storage keeps the session id, after fallbacks (`'memory'` where Web Storage is missing). */
  get storageKind(): SessionIdStore['kind'] {
    return this.#ids.kind;
  }

  /**
   * Listens to a client event; returns the function that stops listening.
   *
   * @example
   * const off = client.on('session-replaced', ({ previousSessionId, sessionId }) => reload());
   */
  on<K extends keyof SessionClientEvents>(event: K, listener: SessionClientEvents[K]): () => void {
    return this.#emitter.on(event, listener);
  }

  /**
   * Resumes the stored session (or creates one) and opens the WebSocket
   * (over SSE: confirms the session over HTTP; streams open as subscribed).
   * Resolves with the session once connected, retrying with backoff while
   * the server is unreachable; rejects if the client is closed first or the
   * server refuses the session.
   */
  connect(): Promise<SessionInfo> {
    const status = this.#machine.status;
    if (status === 'closed') return Promise.reject(clientClosedError());
    const session = this.#keeper.session;
    if (status === 'connected' && session !== undefined) return Promise.resolve(session);
    if (
      status === 'idle' &&
      this.#transport.mode === 'websocket' &&
      this.#webSocketImpl() === undefined
    ) {
      return Promise.reject(new TypeError(NO_WEBSOCKET));
    }
    const waiting = new Promise<SessionInfo>((resolve, reject) => {
      this.#waiters.add({ resolve, reject });
    });
    if (status === 'idle') {
      this.#machine.transition({ status: 'connecting' });
      this.#online.attach();
      this.#openConnection();
    }
    return waiting;
  }

  /**
   * Subscribes to the session's server events (`session.events`). Every
   * event also goes to `on('event')`, gaps to `on('gap')` as well. After any
   * reconnect the stream resumes from the last event id: missed events are
   * replayed, or a `gap` event says they are gone. When the server rotates
   * the session, the stream moves to the new id without losing or repeating
   * an event (`session-rotated` says so; the server's `session.rotated`
   * notice never reaches the handlers). Returns the unsubscribe.
   *
   * @example
   * client.subscribeEvents((event) => {
   *   if (event.type === 'gap') refetchAll();
   *   else render(event);
   * });
   */
  subscribeEvents(handler: SessionEventHandler = () => {}): () => void {
    if (this.#machine.status === 'closed') throw clientClosedError();
    return this.#events.add(handler);
  }

  /**
   * How this client reaches the WebSocket: `'shared'` when it shares the
   * browser's one socket (`connection: 'shared'` where Web Locks and
   * BroadcastChannel exist), else `'per-tab'`.
   */
  get connectionMode(): 'per-tab' | 'shared' {
    return this.#sharedSupport === undefined ? 'per-tab' : 'shared';
  }

  /** True while this tab holds the browser's shared socket (`connection: 'shared'`). */
  get leading(): boolean {
    return this.#shared?.leading ?? false;
  }

  /** Id of the last session event received; where the stream resumes. */
  get lastEventId(): string | undefined {
    return this.#events.lastEventId;
  }

  /**
   * Stops heartbeats, reconnects and the WebSocket (or SSE streams), and with
   * `{ endSession: true }` deletes the session on the server and forgets the
   * stored id. Leaves no timer or socket behind. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.endSession === true, undefined);
    return this.#closing;
  }

  // ---- connection ---------------------------------------------------------

  /** Opens the connection over the transport in use (the first `connect()`). */
  #openConnection(): void {
    if (this.#transport.current === 'sse') {
      this.#sse.connect();
      return;
    }
    this.#socketClient();
  }

  /** The WebSocket, created by the first `connect()` (or subscription). */
  #socketClient(): TRPCWebSocketClient {
    if (this.#closing !== undefined) throw clientClosedError();
    if (this.#socket === undefined && this.#machine.status === 'idle')
      void this.connect().catch(() => {});
    if (this.#socket !== undefined) return this.#socket.client;
    if (this.#transport.current === 'sse' && !this.#transport.trying) {
      throw new SessionClientError(
        ClientErrorCode.NETWORK_ERROR,
        'The WebSocket is not in use: the client is on SSE',
      );
    }
    const WebSocketImpl = this.#webSocketImpl();
    if (WebSocketImpl === undefined) throw new TypeError(NO_WEBSOCKET);
    let socket: SessionSocket | undefined;
    // A socket that tries the WebSocket again (on SSE) reconnects by no one's backoff until confirmed.
    const trial = this.#transport.trying ? new TrialScheduler(this.#scheduler) : undefined;
    this.#trialScheduler = trial;
    const hooks: SessionSocketHooks = {
      onConnected: (session) => {
        trial?.promote();
        if (this.#machine.status !== 'connected') {
          this.#machine.tryTransition({ status: 'connected', sessionId: session.sessionId });
        }
      },
      onLost: (error) => this.#onConnectionLost(error),
      onFatal: (error) => void this.#fail(error),
      // A socket the client retired (it moved to SSE) stops where it is.
      closed: () =>
        this.#closing !== undefined || (socket !== undefined && this.#socket !== socket),
    };
    // Shared: this tab's part in the browser's one socket, for the client's lifetime.
    if (this.#sharedSupport !== undefined) {
      this.#shared ??= new SharedConnection({
        url: this.#urls.trpcWs,
        WebSocket: WebSocketImpl,
        ...this.#sharedSupport,
        page: pageEvents(),
      });
    }
    const SocketImpl = this.#shared?.WebSocket ?? WebSocketImpl;
    socket = new SessionSocket({
      url: this.#urls.trpcWs,
      WebSocket: this.#transport.mode === 'auto' ? this.#trackedWebSocket(SocketImpl) : SocketImpl,
      scheduler: trial ?? this.#scheduler,
      keeper: this.#keeper,
      api: this.#api,
      hooks: this.#transport.socketHooks(hooks),
    });
    this.#socket = socket;
    return socket.client;
  }

  /** `WebSocketImpl` that tells the transport controller of each socket it creates. */
  #trackedWebSocket(WebSocketImpl: unknown): unknown {
    const transport = this.#transport;
    const Base = WebSocketImpl as new (url: string, protocols?: string | string[]) => object;
    return class extends Base {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        transport.socketCreated();
      }
    };
  }

  /** The socket or the session's SSE stream was lost. */
  #onConnectionLost(error: SessionClientError): void {
    this.#events.connectionLost();
    if (this.#machine.status !== 'connected') return;
    this.#machine.transition({
      status: 'reconnecting',
      attempt: this.#scheduler.attempt,
      error,
    });
  }

  #onSseConnected(): void {
    const sessionId = this.#keeper.id;
    if (this.#transport.current !== 'sse' || sessionId === undefined) return;
    if (this.#machine.status !== 'connected') {
      this.#machine.tryTransition({ status: 'connected', sessionId });
    }
  }

  /** `transport: 'auto'` moved: subscriptions have moved already; retire what carried them. */
  #onTransportChange(event: TransportEvent): void {
    if (event.transport === 'sse') {
      this.#retireSocket();
      this.#sse.connect();
    } else {
      this.#sse.close();
    }
    this.#emitter.emit('transport', event);
  }

  #retireSocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    void socket?.close().catch(() => {});
    this.#trialScheduler?.end();
    this.#trialScheduler = undefined;
  }

  /** True when the server answers HTTP now (any answer: only a network failure says no). */
  async #httpWorks(): Promise<boolean> {
    const id = this.#keeper.id;
    try {
      if (id === undefined) await this.#keeper.ensure();
      else await this.#api.get(id);
      return true;
    } catch (error) {
      return !isNetworkError(error) && httpStatusOf(error) !== undefined;
    }
  }

  /** True while the socket, or the session's SSE stream, is open. */
  #connectionOpen(): boolean {
    return this.#transport.current === 'sse' ? this.#sse.open : this.#socket?.open === true;
  }

  #lastConnectionError(): SessionClientError | undefined {
    return this.#transport.current === 'sse' ? this.#sse.lastError : this.#socket?.lastError;
  }

  #webSocketImpl(): unknown {
    return this.#options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket;
  }

  #onReconnectScheduled(attempt: number, delayMs: number): void {
    this.#emitter.emit('reconnect', { attempt, delayMs });
    const state = this.#machine.state;
    if (
      state.status === 'offline' ||
      (state.status === 'reconnecting' && state.attempt === attempt)
    ) {
      return;
    }
    this.#machine.tryTransition({
      status: 'reconnecting',
      attempt,
      error: this.#lastConnectionError(),
    });
  }

  #onOffline(): void {
    const status = this.#machine.status;
    if (status === 'idle' || status === 'closed' || status === 'offline') return;
    this.#scheduler.pause();
    this.#machine.transition({ status: 'offline' });
  }

  #onOnline(): void {
    const status = this.#machine.status;
    const sessionId = this.#keeper.id;
    if (status === 'offline') {
      if (this.#connectionOpen() && sessionId !== undefined) {
        this.#machine.transition({ status: 'connected', sessionId });
      } else {
        this.#machine.transition({
          status: 'reconnecting',
          attempt: 0,
          error: this.#lastConnectionError(),
        });
        // Over SSE without an open stream nothing else would confirm the session again.
        if (this.#transport.current === 'sse') this.#sse.connect();
      }
    }
    if (this.#machine.status !== 'closed') this.#scheduler.wake();
  }

  /** The one place state changes are acted on and announced. */
  #onState(state: ConnectionState, previous: ConnectionState): void {
    if (state.status === 'connected') {
      // Beat at once while the server's timeout (hence the interval) is
      // unknown, and after being offline.
      this.#heartbeat.start(previous.status === 'offline' || !this.#heartbeat.knowsTimeout);
      this.#events.resume();
      const session = this.#keeper.session;
      if (session !== undefined) {
        for (const waiter of this.#takeWaiters()) waiter.resolve(session);
      }
    } else {
      this.#heartbeat.stop();
    }
    if (state.status === 'closed') {
      const error = state.error ?? clientClosedError();
      for (const waiter of this.#takeWaiters()) waiter.reject(error);
    }
    this.#emitter.emit('state', state, previous);
  }

  #takeWaiters(): Waiter[] {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    return waiters;
  }

  // ---- heartbeats ---------------------------------------------------------

  async #beat() {
    const id = this.#keeper.id;
    if (id === undefined) throw clientClosedError();
    return this.#api.heartbeat(id);
  }

  #onHeartbeatError(error: unknown): void {
    const reason = serverErrorCode(error);
    const id = this.#keeper.id;
    if (
      (reason === code('SESSION_NOT_FOUND') || reason === code('INVALID_SESSION_ID')) &&
      id !== undefined
    ) {
      // The server closes the lost session's socket (4404); it reopens with the new id.
      this.#keeper
        .replace(id, reason === code('INVALID_SESSION_ID') ? 'invalid' : 'not-found')
        .catch((failure: unknown) => this.#emitter.emit('error', toSessionClientError(failure)));
      return;
    }
    const failure = toSessionClientError(error);
    if (failure.code !== ClientErrorCode.CLIENT_CLOSED) this.#emitter.emit('error', failure);
  }

  // ---- shutdown -----------------------------------------------------------

  /** Closes on a fatal error: reports it and ends in `closed` with it. */
  #fail(error: SessionClientError): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#emitter.emit('error', error);
    this.#closing = this.#shutdown(false, error);
    return this.#closing;
  }

  async #shutdown(endSession: boolean, error: SessionClientError | undefined): Promise<void> {
    this.#heartbeat.stop();
    this.#online.detach();
    this.#events.stop();
    this.#transport.close();
    this.#sse.close();
    // `close()` stops tRPC's reconnect loop first (synchronously), so that
    // rejecting the pending backoff below cannot start another attempt.
    const socketClosed = this.#socket?.close();
    this.#scheduler.close();
    this.#lifetime.abort();
    const id = this.#keeper.id;
    if (endSession && id !== undefined) {
      await this.#api.delete(id).catch(() => {});
      this.#keeper.forget();
    }
    await socketClosed?.catch(() => {});
    // After the socket: its close reaches the leader before this tab leaves.
    this.#shared?.close();
    this.#machine.transition({ status: 'closed', error });
  }
}

const NO_WEBSOCKET =
  "No WebSocket implementation: pass `WebSocket` (in Node 20: `import { WebSocket } from 'ws'`)";

/** Web Locks and BroadcastChannel, given or the platform's; undefined where either is missing. */
function sharedSupport(
  options: SessionClientOptions,
): Pick<SharedConnectionDeps, 'locks' | 'BroadcastChannel'> | undefined {
  const platform = globalThis as {
    navigator?: { locks?: SharedConnectionDeps['locks'] };
    BroadcastChannel?: SharedConnectionDeps['BroadcastChannel'];
  };
  const locks = options.locks ?? platform.navigator?.locks;
  const BroadcastChannel = options.BroadcastChannel ?? platform.BroadcastChannel;
  if (locks === undefined || BroadcastChannel === undefined) return undefined;
  return { locks, BroadcastChannel };
}

/** The window's page lifecycle events, in a browser. */
function pageEvents(): SharedConnectionDeps['page'] {
  const page = globalThis as { window?: SharedConnectionDeps['page'] };
  return page.window;
}

function createInput(options: SessionClientOptions): CreateSessionInput {
  const input: CreateSessionInput = {};
  if (options.userId !== undefined) input.userId = options.userId;
  if (options.conversationId !== undefined) input.conversationId = options.conversationId;
  if (options.metadata !== undefined) input.metadata = options.metadata;
  return input;
}

function resolveFetch(fetchOption: FetchLike | undefined): FetchLike {
  if (fetchOption !== undefined) return fetchOption;
  const platform = (globalThis as { fetch?: FetchLike }).fetch;
  if (platform === undefined) throw new TypeError('No fetch implementation: pass `fetch`');
  return (input, init) => platform(input, init);
}
