import {
  createTRPCClient,
  createWSClient,
  getUntypedClient,
  type TRPCClient,
  type TRPCWebSocketClient,
} from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { fullJitterBackoff } from './backoff.js';
import { Emitter } from './emitter.js';
import {
  ClientErrorCode,
  SessionClientError,
  serverErrorCode,
  toSessionClientError,
} from './errors.js';
import { EventStream, isGapEvent, type SessionEventHandler } from './events.js';
import { createSessionFetch, type SessionFetch } from './fetch.js';
import { HeartbeatTimer } from './heartbeat.js';
import { createSessionLinks } from './links.js';
import { OnlineWatcher } from './online.js';
import {
  type FetchLike,
  httpRetryDefaults,
  reconnectDefaults,
  type SessionClientOptions,
  sessionClientDefaults,
} from './options.js';
import { ReconnectScheduler } from './reconnect.js';
import { type CreateSessionInput, SessionApi, type SessionInfo } from './session-api.js';
import type { SessionClientEvents, SessionReplacedEvent } from './session-events.js';
import { type ConnectionState, ConnectionStateMachine, type ConnectionStatus } from './state.js';
import { defaultStorageOption, openSessionIdStore, type SessionIdStore } from './storage.js';
import { type ClientUrls, resolveUrls } from './urls.js';

/** WebSocket close codes the client acts on. */
export const CloseCode = {
  /** Server shutting down: reconnect (elsewhere). */
  GOING_AWAY: 1001,
  /** Missing or malformed session parameters: an error, never retried. */
  BAD_SESSION: 4400,
  /** Origin not allowed: an error, never retried. */
  FORBIDDEN: 4403,
  /** Unknown, expired or deleted session: get a new one, then reconnect. */
  SESSION_NOT_FOUND: 4404,
} as const;

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
 * One WebSocket carries subscriptions, HTTP carries queries and mutations;
 * both send the session id. The connection state changes in one place
 * (`ConnectionStateMachine`), driven by the socket's open/close, the reconnect
 * scheduler, the browser's online/offline events and `close()`.
 *
 * Reconnects: tRPC's WebSocket client owns the socket and resends
 * subscriptions with their last event id. Its own retry delay is set to 0;
 * instead, every connection attempt after the first asks `url()` here, which
 * waits the backoff (exponential, full jitter; at once on `online`; never
 * while offline; rejects after `close()`), then checks the session over
 * HTTP (heartbeat), creating a new one when the server no longer knows it,
 * so the socket always opens with a session the server accepts.
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
  #sessionId: string | undefined;
  #session: SessionInfo | undefined;
  /** True once this client's session was confirmed by the server. */
  #verified = false;
  #ws: TRPCWebSocketClient | undefined;
  #socketAttempts = 0;
  /** The session id the latest socket sent in its `connectionParams`. */
  #sentSessionId: string | undefined;
  /** A session id a socket was refused for (4404), until replaced. */
  #rejectedSessionId: string | undefined;
  /** A replacement skipped the backoff since the last connect; the next one waits. */
  #quickReplaceUsed = false;
  #socketGeneration = 0;
  #lastError: SessionClientError | undefined;
  #replacing: Promise<boolean> | undefined;
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
    this.#scheduler = new ReconnectScheduler({
      delayMs: reconnect.delayMs ?? ((attempt) => fullJitterBackoff(attempt, reconnect)),
      maxAttempts: reconnect.maxAttempts,
      onSchedule: (attempt, delayMs) => this.#onReconnectScheduled(attempt, delayMs),
    });
    const replaceSession = (sentId: string) => this.#replaceSession(sentId, 'not-found');
    this.trpc = createTRPCClient<TRouter>({
      links: createSessionLinks<TRouter>({
        httpUrl: this.#urls.trpcHttp,
        fetch: fetchImpl,
        options: http,
        sessionId: () => this.#sessionId,
        replaceSession,
        wsClient: () => this.#socket(),
      }),
    });
    const untyped = getUntypedClient(this.trpc) as unknown as ConstructorParameters<
      typeof SessionApi
    >[0];
    this.#api = new SessionApi(untyped, this.#lifetime.signal);
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
    });
    this.#online = new OnlineWatcher(options.onlineEvents ?? sessionClientDefaults.onlineEvents, {
      online: () => this.#onOnline(),
      offline: () => this.#onOffline(),
    });
    this.fetch = createSessionFetch({
      fetch: fetchImpl,
      baseUrl: this.#urls.base,
      options: http,
      sessionId: () => this.#sessionId,
      replaceSession,
      signal: this.#lifetime.signal,
    });
  }

  /** The current session id; `undefined` until `connect()` resumed or created one. */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  /** The session as last reported by the server (on create, resume or replacement). */
  get session(): SessionInfo | undefined {
    return this.#session;
  }

  /** The connection state's name: `idle | connecting | connected | reconnecting | offline | closed`. */
  get state(): ConnectionStatus {
    return this.#machine.status;
  }

  /** The connection state with its details (attempt, error). */
  get connection(): ConnectionState {
    return this.#machine.state;
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
   * Resumes the stored session (or creates one) and opens the WebSocket.
   * Resolves with the session once connected, retrying with backoff while
   * the server is unreachable; rejects if the client is closed first or the
   * server refuses the session.
   */
  connect(): Promise<SessionInfo> {
    const status = this.#machine.status;
    if (status === 'closed') return Promise.reject(closedError());
    if (status === 'connected' && this.#session !== undefined)
      return Promise.resolve(this.#session);
    if (status === 'idle' && this.#webSocketImpl() === undefined) {
      return Promise.reject(new TypeError(NO_WEBSOCKET));
    }
    const waiting = new Promise<SessionInfo>((resolve, reject) => {
      this.#waiters.add({ resolve, reject });
    });
    if (status === 'idle') {
      this.#machine.transition({ status: 'connecting' });
      this.#online.attach();
      this.#socket();
    }
    return waiting;
  }

  /**
   * Subscribes to the session's server events (`session.events`). Every
   * event also goes to `on('event')`, gaps to `on('gap')` as well. After any
   * reconnect the stream resumes from the last event id: missed events are
   * replayed, or a `gap` event says they are gone. Returns the unsubscribe.
   *
   * @example
   * client.subscribeEvents((event) => {
   *   if (event.type === 'gap') refetchAll();
   *   else render(event);
   * });
   */
  subscribeEvents(handler: SessionEventHandler = () => {}): () => void {
    if (this.#machine.status === 'closed') throw closedError();
    return this.#events.add(handler);
  }

  /** Id of the last session event received; where the stream resumes. */
  get lastEventId(): string | undefined {
    return this.#events.lastEventId;
  }

  /**
   * Stops heartbeats, reconnects and the WebSocket, and with
   * `{ endSession: true }` deletes the session on the server and forgets the
   * stored id. Leaves no timer or socket behind. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.endSession === true, undefined);
    return this.#closing;
  }

  // ---- connection ---------------------------------------------------------

  /** The WebSocket client, created by the first `connect()` (or subscription). */
  #socket(): TRPCWebSocketClient {
    if (this.#closing !== undefined) throw closedError();
    if (this.#ws !== undefined) return this.#ws;
    if (this.#machine.status === 'idle') {
      void this.connect().catch(() => {});
      if (this.#ws !== undefined) return this.#ws;
    }
    const WebSocketImpl = this.#webSocketImpl();
    if (WebSocketImpl === undefined) throw new TypeError(NO_WEBSOCKET);
    this.#ws = createWSClient({
      url: () => this.#beforeSocket(),
      connectionParams: () => {
        this.#sentSessionId = this.#sessionId;
        return { sessionId: this.#sessionId ?? '' };
      },
      WebSocket: WebSocketImpl as typeof WebSocket,
      retryDelayMs: () => 0,
      onOpen: () => this.#onSocketOpen(),
      onClose: (cause) => this.#onSocketClose(cause?.code),
    });
    return this.#ws;
  }

  #webSocketImpl(): unknown {
    return this.#options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket;
  }

  /**
   * Runs before every socket. The first resumes or creates the session over
   * HTTP; later ones wait their backoff first. A socket the server refused
   * for its session (4404) gets the session replaced, without the wait the
   * first time (the server is up, the session is gone).
   */
  async #beforeSocket(): Promise<string> {
    try {
      const rejected =
        this.#rejectedSessionId !== undefined && this.#rejectedSessionId === this.#sessionId;
      const retry = this.#socketAttempts++ > 0;
      if (retry && !(rejected && !this.#quickReplaceUsed)) await this.#scheduler.wait();
      this.#assertOpen();
      if (!this.#verified) {
        await this.#ensureSession();
      } else if (rejected && this.#sessionId !== undefined) {
        this.#quickReplaceUsed = true;
        this.#rejectedSessionId = undefined;
        if (!(await this.#replaceSession(this.#sessionId, 'not-found'))) throw closedError();
      }
      this.#assertOpen();
      return this.#urls.trpcWs;
    } catch (error) {
      const failure = toSessionClientError(error);
      if (failure.code === ClientErrorCode.RECONNECT_FAILED) void this.#fail(failure);
      else if (failure.code !== ClientErrorCode.CLIENT_CLOSED) this.#lastError = failure;
      throw failure;
    }
  }

  /**
   * A socket opened; it counts as connected once the server answers a call
   * on it, which proves it accepted the session (a refused socket is closed
   * with 4400/4404 instead, and `#onSocketClose` takes over).
   */
  #onSocketOpen(): void {
    if (this.#closing !== undefined) return;
    const generation = ++this.#socketGeneration;
    this.#api.confirmSocket().then(
      (session) => {
        if (generation !== this.#socketGeneration || this.#closing !== undefined) return;
        if (session.sessionId !== this.#sessionId) return;
        this.#session = session;
        this.#quickReplaceUsed = false;
        this.#scheduler.reset();
        this.#lastError = undefined;
        if (this.#machine.status !== 'connected') {
          this.#machine.tryTransition({ status: 'connected', sessionId: session.sessionId });
        }
      },
      () => {
        // The socket closed before answering; its close event reports why.
      },
    );
  }

  #onSocketClose(code: number | undefined): void {
    if (this.#closing !== undefined) return;
    if (code === CloseCode.BAD_SESSION || code === CloseCode.FORBIDDEN) {
      void this.#fail(
        new SessionClientError(
          ClientErrorCode.SESSION_REJECTED,
          `The server refused the WebSocket (close ${code})`,
          { closeCode: code },
        ),
      );
      return;
    }
    if (code === CloseCode.SESSION_NOT_FOUND) this.#rejectedSessionId = this.#sentSessionId;
    if (this.#machine.status !== 'connected') return;
    const error = new SessionClientError(
      code === CloseCode.SESSION_NOT_FOUND ? 'SESSION_NOT_FOUND' : ClientErrorCode.NETWORK_ERROR,
      `WebSocket closed (${code ?? 'no code'})`,
      { closeCode: code },
    );
    this.#lastError = error;
    this.#machine.transition({ status: 'reconnecting', attempt: this.#scheduler.attempt, error });
  }

  #onReconnectScheduled(attempt: number, delayMs: number): void {
    this.#emitter.emit('reconnect', { attempt, delayMs });
    const state = this.#machine.state;
    if (
      state.status === 'offline' ||
      (state.status === 'reconnecting' && state.attempt === attempt)
    )
      return;
    this.#machine.tryTransition({ status: 'reconnecting', attempt, error: this.#lastError });
  }

  #onOffline(): void {
    const status = this.#machine.status;
    if (status === 'idle' || status === 'closed' || status === 'offline') return;
    this.#scheduler.pause();
    this.#machine.transition({ status: 'offline' });
  }

  #onOnline(): void {
    const status = this.#machine.status;
    if (status === 'offline') {
      if (this.#ws?.connection?.state === 'open' && this.#sessionId !== undefined) {
        this.#machine.transition({ status: 'connected', sessionId: this.#sessionId });
      } else {
        this.#machine.transition({ status: 'reconnecting', attempt: 0, error: this.#lastError });
      }
    }
    if (this.#machine.status !== 'closed') this.#scheduler.wake();
  }

  /** The one place state changes are acted on and announced. */
  #onState(state: ConnectionState, previous: ConnectionState): void {
    if (state.status === 'connected') {
      // Beat at once when the server's timeout (hence the interval) is not
      // known yet, or after being offline; otherwise `url()` just checked.
      this.#heartbeat.start(previous.status === 'offline' || !this.#heartbeat.knowsTimeout);
      this.#events.resume();
      const session = this.#session;
      if (session !== undefined) {
        for (const waiter of this.#takeWaiters()) waiter.resolve(session);
      }
    } else {
      this.#heartbeat.stop();
    }
    if (state.status === 'closed') {
      const error = state.error ?? closedError();
      for (const waiter of this.#takeWaiters()) waiter.reject(error);
    }
    this.#emitter.emit('state', state, previous);
  }

  #takeWaiters(): Waiter[] {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    return waiters;
  }

  // ---- session ------------------------------------------------------------

  /** First connect: resumes the stored id (`session.get`), or creates a session; replaces an unknown id. */
  async #ensureSession(): Promise<void> {
    const id = this.#sessionId ?? this.#ids.get();
    if (id === undefined) {
      this.#adopt(await this.#api.create(this.#createInput()));
      return;
    }
    this.#sessionId = id;
    try {
      this.#adopt(await this.#api.get(id));
    } catch (error) {
      const code = serverErrorCode(error);
      if (code !== 'SESSION_NOT_FOUND' && code !== 'INVALID_SESSION_ID') throw error;
      const replaced = await this.#replaceSession(
        id,
        code === 'INVALID_SESSION_ID' ? 'invalid' : 'not-found',
      );
      if (!replaced) throw error;
    }
  }

  /**
   * Replaces `previousId`, which the server does not know, once however many
   * callers notice: adopts a newer id another tab stored (shared storage) when
   * the server knows it, or creates a session; then announces it.
   */
  #replaceSession(previousId: string, reason: SessionReplacedEvent['reason']): Promise<boolean> {
    if (this.#closing !== undefined) return Promise.resolve(false);
    if (this.#sessionId !== previousId) return Promise.resolve(this.#sessionId !== undefined);
    this.#replacing ??= (async () => {
      try {
        const session =
          (await this.#adoptStoredSession(previousId)) ??
          (await this.#api.create(this.#createInput()));
        this.#assertOpen();
        this.#adopt(session, {
          previousSessionId: previousId,
          sessionId: session.sessionId,
          reason,
        });
        return true;
      } finally {
        this.#replacing = undefined;
      }
    })();
    return this.#replacing;
  }

  async #adoptStoredSession(previousId: string): Promise<SessionInfo | undefined> {
    const stored = this.#ids.get();
    if (stored === undefined || stored === previousId) return undefined;
    try {
      return await this.#api.get(stored);
    } catch {
      return undefined;
    }
  }

  #adopt(session: SessionInfo, replaced?: SessionReplacedEvent): void {
    this.#sessionId = session.sessionId;
    this.#session = session;
    this.#verified = true;
    this.#ids.set(session.sessionId);
    if (replaced !== undefined) this.#emitter.emit('session-replaced', replaced);
    this.#emitter.emit('session', session);
  }

  #createInput() {
    const input: CreateSessionInput = {};
    if (this.#options.userId !== undefined) input.userId = this.#options.userId;
    if (this.#options.metadata !== undefined) input.metadata = this.#options.metadata;
    return input;
  }

  async #beat() {
    const id = this.#sessionId;
    if (id === undefined) throw closedError();
    return this.#api.heartbeat(id);
  }

  #onHeartbeatError(error: unknown): void {
    const code = serverErrorCode(error);
    const id = this.#sessionId;
    if ((code === 'SESSION_NOT_FOUND' || code === 'INVALID_SESSION_ID') && id !== undefined) {
      // The socket of the lost session is closed by the server (4404) and
      // reopens with the new id.
      this.#replaceSession(id, code === 'INVALID_SESSION_ID' ? 'invalid' : 'not-found').catch(
        (failure: unknown) => this.#emitter.emit('error', toSessionClientError(failure)),
      );
      return;
    }
    const failure = toSessionClientError(error);
    if (failure.code !== ClientErrorCode.CLIENT_CLOSED) this.#emitter.emit('error', failure);
  }

  // ---- shutdown -----------------------------------------------------------

  #assertOpen(): void {
    if (this.#closing !== undefined) throw closedError();
  }

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
    // `close()` stops tRPC's reconnect loop first (synchronously), so that
    // rejecting the pending backoff below cannot start another attempt.
    const socketClosed = this.#ws?.close();
    this.#scheduler.close();
    this.#lifetime.abort();
    const id = this.#sessionId;
    if (endSession && id !== undefined) {
      await this.#api.delete(id).catch(() => {});
      this.#ids.clear();
    }
    await socketClosed?.catch(() => {});
    this.#machine.transition({ status: 'closed', error });
  }
}

const NO_WEBSOCKET =
  "No WebSocket implementation: pass `WebSocket` (in Node 20: `import { WebSocket } from 'ws'`)";

function closedError(): SessionClientError {
  return new SessionClientError(ClientErrorCode.CLIENT_CLOSED, 'The session client was closed');
}

function resolveFetch(fetchOption: FetchLike | undefined): FetchLike {
  if (fetchOption !== undefined) return fetchOption;
  const platform = (globalThis as { fetch?: FetchLike }).fetch;
  if (platform === undefined) throw new TypeError('No fetch implementation: pass `fetch`');
  return (input, init) => platform(input, init);
}
