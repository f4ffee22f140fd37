import {
  createTRPCClient,
  getUntypedClient,
  type TRPCClient,
  type TRPCLink,
  type TRPCUntypedClient,
} from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { resolveClientConfig } from './client-config.js';
import { ClientTransports } from './client-transports.js';
import { ClientConnection } from './connection.js';
import { Emitter } from './emitter.js';
import { clientClosedError } from './errors.js';
import type { SessionEventHandler } from './events.js';
import { createSessionFetch, type SessionFetch } from './fetch.js';
import { ClientLifetime } from './lifetime.js';
import { createSessionLinks } from './links.js';
import type { SessionClientOptions } from './options.js';
import type { SessionInfo } from './protocol.js';
import type { SessionClientEvents, TransportKind } from './session-events.js';
import { SessionLifecycle, sessionCalls } from './session-lifecycle.js';
import type { SharedSocket } from './shared/shared-socket.js';
import { ClientShutdown } from './shutdown.js';
import type { ConnectionState, ConnectionStatus } from './state.js';
import type { SessionIdStore } from './storage.js';

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * Also delete the session on the server and forget the stored id.
   * @default false
   */
  endSession?: boolean;
}

/**
 * A session-aware client for one Morgan server; see `createSessionClient`.
 *
 * HTTP carries queries and mutations, the WebSocket (or SSE streams, by the
 * `transport` option) subscriptions; all send the session id. This class is
 * a facade over parts of one concern each, which its constructor wires: the
 * connection state and what moves it (`ClientConnection`), the session's
 * id, calls, heartbeats and event stream (`SessionLifecycle`), what carries
 * calls and subscriptions and the tRPC links over them (`ClientTransports`),
 * `fetch` for plain routes (`createSessionFetch`) and closing
 * (`ClientShutdown`).
 */
export class SessionClient<TRouter extends AnyRouter> {
  /** The app's typed tRPC client; calls carry the session over HTTP and WebSocket. */
  readonly trpc: TRPCClient<TRouter>;
  /** `fetch` for plain routes, with `X-Session-Id` attached and 503/429 retried. */
  readonly fetch: SessionFetch;

  readonly #emitter = new Emitter<SessionClientEvents>();
  readonly #lifetime = new ClientLifetime();
  readonly #ids: SessionIdStore;
  /** With `connection: 'shared'` (where supported): the browser's one socket. */
  readonly #shared: SharedSocket | undefined;
  readonly #connection: ClientConnection;
  readonly #transports: ClientTransports;
  readonly #session: SessionLifecycle;
  readonly #shutdown: ClientShutdown;

  constructor(options: SessionClientOptions) {
    const config = resolveClientConfig(options);
    const emitter = this.#emitter;
    const lifetime = this.#lifetime;
    this.#ids = config.ids;
    const connection = options.connection;
    this.#shared =
      connection === undefined || connection === 'per-tab'
        ? undefined
        : connection.socket(options, config.urls.trpcWs);
    // The session is made last: its calls go through the tRPC client, whose
    // links go through the transports. Parts made before it reach it later.
    const session = () => this.#session;
    const calls = sessionCalls(() => this.#session.keeper);
    this.#connection = new ClientConnection(config, emitter, {
      carrier: () => this.#transports,
      session,
    });
    this.#transports = new ClientTransports(config, {
      emitter,
      lifetime,
      connection: this.#connection,
      session,
      calls,
      shared: this.#shared,
      fail: (error) => void this.#shutdown.fail(error),
    });
    this.trpc = createTRPCClient<TRouter>({ links: this.links() });
    const untyped = getUntypedClient(this.trpc) as unknown as TRPCUntypedClient<AnyRouter>;
    this.#session = new SessionLifecycle(untyped, config, {
      emitter,
      lifetime,
      socket: () => this.#transports.socket.current,
    });
    this.fetch = createSessionFetch({
      ...calls,
      fetch: config.fetch,
      baseUrl: config.urls.base,
      options: config.http,
      signal: lifetime.signal,
    });
    this.#shutdown = new ClientShutdown({
      emitter,
      lifetime,
      connection: this.#connection,
      session: this.#session,
      transports: this.#transports,
      shared: this.#shared,
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
    return createSessionLinks<TRouter>(this.#transports.linkDeps);
  }

  /** The current session id; `undefined` until `connect()` resumed or created one. */
  get sessionId(): string | undefined {
    return this.#session.keeper.id;
  }

  /** The session as last reported by the server (on create, resume or replacement). */
  get session(): SessionInfo | undefined {
    return this.#session.keeper.session;
  }

  /** The connection state's name: `idle | connecting | connected | reconnecting | offline | closed`. */
  get state(): ConnectionStatus {
    return this.#connection.status;
  }

  /** The connection state with its details (attempt, error). */
  get connection(): ConnectionState {
    return this.#connection.state;
  }

  /**
   * The transport subscriptions use now: `'websocket'`, or `'sse'` (with
   * `transport: 'sse'`, or `'auto'` after WebSocket upgrades failed while
   * HTTP worked); `on('transport')` announces changes.
   */
  get transport(): TransportKind {
    return this.#transports.current;
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
    return this.#connection.connect();
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
    if (this.#connection.status === 'closed') throw clientClosedError();
    return this.#session.events.add(handler);
  }

  /**
   * How this client reaches the WebSocket: `'shared'` when it shares the
   * browser's one socket (`connection: 'shared'` where Web Locks and
   * BroadcastChannel exist), else `'per-tab'`.
   */
  get connectionMode(): 'per-tab' | 'shared' {
    return this.#shared === undefined ? 'per-tab' : 'shared';
  }

  /** True while this tab holds the browser's shared socket (`connection: 'shared'`). */
  get leading(): boolean {
    return this.#shared?.leading ?? false;
  }

  /** Id of the last session event received; where the stream resumes. */
  get lastEventId(): string | undefined {
    return this.#session.events.lastEventId;
  }

  /**
   * Stops heartbeats, reconnects and the WebSocket (or SSE streams), and with
   * `{ endSession: true }` deletes the session on the server and forgets the
   * stored id. Leaves no timer or socket behind. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    return this.#shutdown.close(options.endSession === true);
  }
}
