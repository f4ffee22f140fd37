import { SharedConnection, type SharedConnectionDeps } from './hub.js';

/** What sharing a socket needs of the platform: Web Locks and BroadcastChannel. */
type SharedSupport = Pick<SharedConnectionDeps, 'locks' | 'BroadcastChannel'>;

/**
 * A client's use of the browser's one WebSocket (`connection: 'shared'`):
 * this tab's part in it ({@link SharedConnection}) is made with the
 * client's first socket and kept for the client's lifetime.
 */
export class SharedSocket {
  readonly #url: string;
  readonly #support: SharedSupport;
  #connection: SharedConnection | undefined;

  constructor(url: string, support: SharedSupport) {
    this.#url = url;
    this.#support = support;
  }

  /**
   * The WebSocket constructor to give tRPC: sockets through the browser's
   * one socket, which `WebSocketImpl` opens while this tab leads.
   */
  webSocket(WebSocketImpl: unknown): unknown {
    this.#connection ??= new SharedConnection({
      url: this.#url,
      WebSocket: WebSocketImpl,
      ...this.#support,
      page: pageEvents(),
    });
    return this.#connection.WebSocket;
  }

  /** True while this tab holds the browser's socket. */
  get leading(): boolean {
    return this.#connection?.leading ?? false;
  }

  /** Leaves the browser's socket (after this tab's own socket closed). */
  close(): void {
    this.#connection?.close();
  }
}

/**
 * One WebSocket per browser, for the client's `connection` option: the tabs
 * of a browser (clients with the same `url`) share one WebSocket, held by a
 * tab elected with the Web Locks API and reached over BroadcastChannel;
 * every tab keeps its own session, and its calls, heartbeats and event
 * streams travel over that socket (session creation stays on HTTP). When
 * the leading tab closes or crashes, the next one takes over and the others
 * reconnect at once; event streams resume from the last event id. Where Web
 * Locks or BroadcastChannel is missing (and the client's `locks` or
 * `BroadcastChannel` option gives none), the client has a socket of its own.
 *
 * @example
 * import { sharedConnection } from '@morgan/session-client/shared';
 * const client = createSessionClient<AppRouter>({ url, connection: sharedConnection() });
 */
export function sharedConnection(): {
  readonly mode: 'shared';
  socket: typeof sharedSocketFor;
} {
  return { mode: 'shared', socket: sharedSocketFor };
}

/**
 * The shared socket of a client at `url`, where Web Locks and
 * BroadcastChannel exist (given in the options or the platform's);
 * undefined otherwise: the client has a socket of its own.
 */
export function sharedSocketFor(
  options: Partial<SharedSupport>,
  url: string,
): SharedSocket | undefined {
  const platform = globalThis as {
    navigator?: { locks?: SharedConnectionDeps['locks'] };
    BroadcastChannel?: SharedConnectionDeps['BroadcastChannel'];
  };
  const locks = options.locks ?? platform.navigator?.locks;
  const BroadcastChannel = options.BroadcastChannel ?? platform.BroadcastChannel;
  if (locks === undefined || BroadcastChannel === undefined) return undefined;
  return new SharedSocket(url, { locks, BroadcastChannel });
}

/** The window's page lifecycle events, in a browser. */
function pageEvents(): SharedConnectionDeps['page'] {
  const page = globalThis as { window?: SharedConnectionDeps['page'] };
  return page.window;
}
