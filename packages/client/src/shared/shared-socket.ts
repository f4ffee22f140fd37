import type { SessionClientOptions } from '../options.js';
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
 * The shared socket of a client with `connection: 'shared'` at `url`, where
 * Web Locks and BroadcastChannel exist (given in the options or the
 * platform's); undefined otherwise: the client has a socket of its own.
 */
export function sharedSocketFor(
  options: SessionClientOptions,
  url: string,
): SharedSocket | undefined {
  if (options.connection !== 'shared') return undefined;
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
