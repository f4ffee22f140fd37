import type { IncomingMessage } from 'node:http';
import { errorCodeInfo, toMorganError } from '../errors.js';
import type { SessionManager } from '../manager.js';
import { CloseCode, ErrorCode, errorMessage } from '../protocol.js';
import type { Session } from '../session.js';
import { isSessionId } from '../session.js';
import { Heartbeat, type HeartbeatPeer } from './heartbeat.js';
import { type SocketListener, SocketState, type WireSocket } from './socket.js';

/** The limits one connection keeps. */
export interface ConnectionLimits {
  authTimeoutMs: number;
  maxSocketsPerSession: number;
  maxSubscriptionsPerSocket: number;
  maxBufferedBytes: number;
  closeTimeoutMs: number;
}

/** What a connection needs from the layer that owns it. */
export interface ConnectionHost {
  readonly manager: SessionManager;
  /** Adds the connection to its session's sockets (before it is counted). */
  register(connection: Connection): void;
  /** Removes it from every index once closed. */
  unregister(connection: Connection): void;
  /** A pong or message arrived. */
  activity(connection: Connection): void;
  /** Counts the connection down on its session (`removeConnection`). */
  release(connection: Connection): void;
  /** The socket authenticated: what serves its messages from now on (tRPC's protocol). */
  serve(connection: Connection): Served;
}

/** What serves an authenticated connection's messages. */
export interface Served {
  received(text: string | null): void;
  /** The socket closed: everything it holds ends. */
  closed(): void;
}

type Phase = 'auth' | 'joining' | 'open' | 'closed';

/** Messages held while the session lookup runs; past it the socket is closed with 1008. */
const MAX_BUFFERED = 100;

/**
 * One socket's lifecycle, a tab's own or a channel of a shared one:
 * authenticate with the first message (tRPC `connectionParams`
 * `{ sessionId }`), count it on the session exactly once (`addConnection` /
 * `removeConnection`, also when it closes abnormally or while being
 * counted), then pass its messages to what serves it.
 */
export class Connection implements HeartbeatPeer, SocketListener {
  readonly ws: WireSocket;
  readonly req: IncomingMessage;
  readonly #host: ConnectionHost;
  pingRound = 0;
  /** Calls in flight on this socket. */
  inFlight = 0;
  sessionId: string | undefined;
  /** The socket's tRPC `connectionParams` (string values), until it is served. */
  connectionParams: Record<string, string> | null = null;
  /** Gives back the socket's place among its address's unauthenticated ones (`admission`). */
  settle: (() => void) | undefined;
  /** Snapshot taken when the socket was counted; the tRPC context's `session`. */
  session: Session | undefined;
  /** Set once the socket is being closed by us. */
  ending = false;
  /** Close code and reason to send once the calls in flight have answered. */
  #pendingEnd: [code: number, reason: string] | undefined;
  /** Counted on the session and not yet released. */
  #counted = false;

  /** True while the socket is counted on its session's `connectionCount`. */
  get counted(): boolean {
    return this.#counted;
  }
  #phase: Phase = 'auth';
  /** Messages that arrived while the session was being looked up (`null`: binary). */
  #buffered: (string | null)[] | undefined;
  #served: Served | undefined;
  #authTimer: ReturnType<typeof setTimeout> | undefined;

  readonly #limits: ConnectionLimits;
  /** `session.events` subscriptions open on this socket. */
  #subscriptions = 0;

  /** Call `listen` (a tab's socket) or `Channel.listen` with it to feed it the socket's events. */
  constructor(
    ws: WireSocket,
    req: IncomingMessage,
    host: ConnectionHost,
    limits: ConnectionLimits,
  ) {
    this.ws = ws;
    this.req = req;
    this.#host = host;
    this.#limits = limits;
    this.#authTimer = setTimeout(
      () => this.end(CloseCode.BAD_SESSION, 'connectionParams not received'),
      limits.authTimeoutMs,
    );
    this.#authTimer.unref();
  }

  /**
   * Takes a subscription slot of this socket; returns its release (safe to
   * call twice), or undefined when the socket holds its share already.
   */
  openSubscription(): (() => void) | undefined {
    if (this.#subscriptions >= this.#limits.maxSubscriptionsPerSocket) return undefined;
    this.#subscriptions += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#subscriptions -= 1;
    };
  }

  /** True once the socket is served (authenticated and counted). */
  get open(): boolean {
    return this.#phase === 'open';
  }

  /** Closes the socket with a code; safe to call more than once. */
  end(code: number, reason: string): void {
    if (this.ending || this.#phase === 'closed') return;
    this.ending = true;
    const state = this.ws.readyState;
    if (state === SocketState.OPEN || state === SocketState.CONNECTING) this.ws.close(code, reason);
  }

  /**
   * Sends a message. A client that stops reading must not make the server
   * buffer without bound: past `maxBufferedBytes` queued, the socket is
   * closed with 1013, and cut when even the close frame cannot get through.
   */
  send(text: string): void {
    const { ws } = this;
    ws.send(text);
    if (ws.bufferedAmount <= this.#limits.maxBufferedBytes || this.ending) return;
    this.end(CloseCode.TRY_AGAIN_LATER, 'SLOW_CONSUMER');
    setTimeout(() => ws.terminate(), this.#limits.closeTimeoutMs).unref();
  }

  /**
   * Closes now when no call is in flight; otherwise once they have answered
   * (see `callEnded`). Returns true when the close was deferred.
   */
  endAfterCalls(code: number, reason: string): boolean {
    if (this.inFlight === 0) {
      this.end(code, reason);
      return false;
    }
    this.#pendingEnd ??= [code, reason];
    return true;
  }

  /** Sends a deferred close, if any. */
  flushEnd(): void {
    if (this.#pendingEnd !== undefined) this.end(...this.#pendingEnd);
  }

  callStarted(): void {
    this.inFlight += 1;
  }

  /** Returns true when a deferred close is now due. */
  callEnded(): boolean {
    this.inFlight -= 1;
    return this.inFlight === 0 && this.#pendingEnd !== undefined;
  }

  // SocketListener

  alive(): void {
    Heartbeat.alive(this);
    if (this.#phase === 'open') this.#host.activity(this);
  }

  received(text: string | null): void {
    Heartbeat.alive(this);
    switch (this.#phase) {
      case 'auth':
        this.#phase = 'joining';
        clearTimeout(this.#authTimer);
        this.#authTimer = undefined;
        this.#buffered = [];
        void this.#join(text);
        return;
      case 'joining':
        if ((this.#buffered?.push(text) ?? 0) > MAX_BUFFERED) {
          this.end(CloseCode.POLICY_VIOLATION, 'Too many messages before authentication');
        }
        return;
      case 'open':
        this.#host.activity(this);
        this.#served?.received(text);
        return;
      case 'closed':
        return;
    }
  }

  closed(): void {
    this.#phase = 'closed';
    this.ending = true;
    clearTimeout(this.#authTimer);
    this.#authTimer = undefined;
    this.#buffered = undefined;
    this.#served?.closed();
    this.#served = undefined;
    this.#host.unregister(this);
    this.#releaseOnce();
  }

  async #join(text: string | null): Promise<void> {
    const params = readConnectionParams(text);
    const sessionId = params === null ? null : params?.sessionId;
    if (!isSessionId(sessionId)) {
      this.end(CloseCode.BAD_SESSION, badSessionReason(sessionId));
      return;
    }
    this.sessionId = sessionId;
    this.connectionParams = stringParams(params as Record<string, unknown>);
    this.#host.register(this);
    let session: Session;
    try {
      session = await this.#host.manager.addConnection(sessionId);
    } catch (error) {
      const { code } = toMorganError(error);
      this.end(errorCodeInfo[code].wsCloseCode, code);
      return;
    }
    this.session = session;
    this.#counted = true;
    if (this.#phase === 'closed') {
      this.#releaseOnce();
      return;
    }
    if (this.ending) return;
    if (session.connectionCount > this.#limits.maxSocketsPerSession) {
      // Counted, so the close counts it down again.
      this.end(CloseCode.RATE_LIMITED, 'TOO_MANY_SOCKETS');
      return;
    }
    this.#phase = 'open';
    const buffered = this.#buffered ?? [];
    this.#buffered = undefined;
    const served = this.#host.serve(this);
    this.#served = served;
    for (const message of buffered) served.received(message);
  }

  #releaseOnce(): void {
    if (!this.#counted) return;
    this.#counted = false;
    this.#host.release(this);
  }
}

function badSessionReason(sessionId: unknown): string {
  if (sessionId === undefined) return 'connectionParams.sessionId is required';
  if (sessionId === null) return 'Expected a connectionParams message first';
  return errorMessage(ErrorCode.INVALID_SESSION_ID);
}

/**
 * The parameters of a tRPC `connectionParams` message
 * (`{"method":"connectionParams","data":{"sessionId":"…"}}`): null when the
 * message is not one, undefined when it carries none.
 */
function readConnectionParams(text: string | null): Record<string, unknown> | null | undefined {
  if (text === null) return null;
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null) return null;
  const { method, data: params } = message as { method?: unknown; data?: unknown };
  if (method !== 'connectionParams') return null;
  if (params === null || params === undefined) return undefined;
  if (typeof params !== 'object' || Array.isArray(params)) return null;
  return params as Record<string, unknown>;
}

/** The string-valued parameters, as tRPC's `connectionParams` (`Dict<string>`) has them. */
function stringParams(params: Record<string, unknown>): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string') strings[key] = value;
  }
  return strings;
}
