import { createWSClient, type TRPCWebSocketClient } from '@trpc/client';
import {
  ClientErrorCode,
  clientClosedError,
  SessionClientError,
  toSessionClientError,
} from './errors.js';
import type { ClientSocketEncoder } from './idempotency-key.js';
import type { SessionInfo } from './protocol.js';
import { CloseCode, code as serverCode } from './protocol.js';
import type { ReconnectScheduler } from './reconnect.js';
import type { SessionApi } from './session-api.js';
import type { SessionKeeper } from './session-keeper.js';
import { HANDOVER_CLOSE_CODE } from './shared/messages.js';

/** How long a replacement waits for the socket to say which session it is on, in ms. */
const SOCKET_SESSION_TIMEOUT_MS = 5_000;

/** What the socket reports to the client, which owns the state machine. */
export interface SessionSocketHooks {
  /** The server accepted a socket (it answered a call on it). */
  onConnected: (session: SessionInfo) => void;
  /** The open socket was lost; reconnects follow. */
  onLost: (error: SessionClientError) => void;
  /** The server refused the socket for good (4400/4403), or reconnects gave up. */
  onFatal: (error: SessionClientError) => void;
  /** True once the client is closing. */
  closed: () => boolean;
}

/** What {@link SessionSocket} works with. */
export interface SessionSocketDeps {
  /** WebSocket URL of the tRPC endpoint. */
  url: string;
  WebSocket: unknown;
  scheduler: ReconnectScheduler;
  keeper: SessionKeeper;
  api: SessionApi;
  /** With `idempotencyKeys()`: adds each keyed mutation's key to its message. */
  encoder?: ClientSocketEncoder | undefined;
  hooks: SessionSocketHooks;
}

/**
 * The client's one WebSocket, through tRPC's WebSocket client, which owns the
 * socket and resends subscriptions with their last event id after a
 * reconnect. tRPC's own retry delay is 0: every attempt asks `url()` here
 * first, which waits the backoff of the {@link ReconnectScheduler} (full
 * jitter, at once on `online`, held while offline, rejected after close), and
 * makes sure the session is one the server knows: resumed or created before
 * the first socket, replaced after a socket was refused with 4404.
 */
export class SessionSocket {
  readonly #deps: SessionSocketDeps;
  readonly #client: TRPCWebSocketClient;
  #attempts = 0;
  #generation = 0;
  /** The session id the latest socket sent in its `connectionParams`. */
  #sentSessionId: string | undefined;
  /** The last rotation followed: a socket confirmed just before it still counts. */
  #rotation: { previousId: string; sessionId: string } | undefined;
  /** A session id a socket was refused for (4404), until replaced. */
  #rejectedSessionId: string | undefined;
  /** A replacement skipped the backoff since the last connect; the next one waits. */
  #quickReplaceUsed = false;
  /** The last socket closed because the tab sharing it went (`connection: 'shared'`): reconnect at once. */
  #handover = false;
  /** Why the last socket or attempt failed. */
  lastError: SessionClientError | undefined;

  /** Creates the tRPC WebSocket client, which starts connecting at once. */
  constructor(deps: SessionSocketDeps) {
    this.#deps = deps;
    this.#client = createWSClient({
      url: () => this.#beforeSocket(),
      connectionParams: () => {
        this.#sentSessionId = deps.keeper.id;
        return { sessionId: deps.keeper.id ?? '' };
      },
      WebSocket: deps.WebSocket as typeof WebSocket,
      // With `idempotencyKeys()`: adds each keyed mutation's key to its message.
      ...(deps.encoder === undefined ? {} : { experimental_encoder: deps.encoder }),
      retryDelayMs: () => 0,
      onOpen: () => this.#onOpen(),
      onClose: (cause) => this.#onClose(cause?.code),
    });
  }

  /** The tRPC WebSocket client, for `wsLink`. */
  get client(): TRPCWebSocketClient {
    return this.#client;
  }

  /** True while a socket is open. */
  get open(): boolean {
    return this.#client.connection?.state === 'open';
  }

  /**
   * The session was rotated: the server moved the open socket to the new id,
   * so it stays open and counts as sent with it (a later 4404 is about the
   * new id). Reconnects send the new id anyway (`connectionParams` reads the
   * keeper).
   */
  followRotation(previousId: string, sessionId: string): void {
    if (this.#sentSessionId === previousId) this.#sentSessionId = sessionId;
    this.#rotation = { previousId, sessionId };
  }

  /**
   * The session the open socket is on, as the server sees it now (it moves
   * sockets to a rotated session's new id); undefined when no socket is
   * open or none answered within `timeoutMs`.
   */
  async currentSession(timeoutMs = SOCKET_SESSION_TIMEOUT_MS): Promise<SessionInfo | undefined> {
    if (!this.open || this.#deps.hooks.closed()) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([this.#deps.api.confirmSocket(), late]);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops reconnecting (synchronously) and closes the socket. */
  close(): Promise<void> {
    return this.#client.close();
  }

  async #beforeSocket(): Promise<string> {
    const { keeper, scheduler, hooks } = this.#deps;
    try {
      const rejected =
        this.#rejectedSessionId !== undefined && this.#rejectedSessionId === keeper.id;
      const retry = this.#attempts++ > 0;
      const handover = this.#handover;
      this.#handover = false;
      // A refused session is no sign of an unreachable server: replace it at once, once.
      // Nor is a shared socket handed over to another tab: go through it at once.
      if (retry && !handover && !(rejected && !this.#quickReplaceUsed)) await scheduler.wait();
      if (hooks.closed()) throw clientClosedError();
      if (!keeper.verified) {
        await keeper.ensure();
      } else if (rejected && keeper.id !== undefined) {
        this.#quickReplaceUsed = true;
        this.#rejectedSessionId = undefined;
        if (!(await keeper.replace(keeper.id, 'not-found'))) throw clientClosedError();
      }
      if (hooks.closed()) throw clientClosedError();
      return this.#deps.url;
    } catch (error) {
      const failure = toSessionClientError(error);
      if (failure.code === ClientErrorCode.RECONNECT_FAILED || isRefusal(failure)) {
        hooks.onFatal(failure);
      } else if (failure.code !== ClientErrorCode.CLIENT_CLOSED) this.lastError = failure;
      throw failure;
    }
  }

  /**
   * A socket opened; it counts once the server answers a call on it, which
   * proves it accepted the session (a refused socket is closed with
   * 4400/4404 instead, and `#onClose` takes over).
   */
  #onOpen(): void {
    const { api, keeper, scheduler, hooks } = this.#deps;
    if (hooks.closed()) return;
    const generation = ++this.#generation;
    api.confirmSocket().then(
      (session) => {
        if (generation !== this.#generation || hooks.closed()) return;
        // Answered for the id just rotated away from: the server moved this socket along.
        const moved =
          this.#rotation?.previousId === session.sessionId &&
          this.#rotation.sessionId === keeper.id;
        if (session.sessionId !== keeper.id && !moved) return;
        keeper.refresh(session);
        this.#quickReplaceUsed = false;
        this.lastError = undefined;
        scheduler.reset();
        hooks.onConnected(keeper.session ?? session);
      },
      () => {
        // The socket closed before answering; its close event reports why.
      },
    );
  }

  /** Called for every socket that closes, attempts included. */
  #onClose(code: number | undefined): void {
    const { hooks } = this.#deps;
    if (hooks.closed()) return;
    if (code === CloseCode.BAD_SESSION || code === CloseCode.FORBIDDEN) {
      hooks.onFatal(
        new SessionClientError(
          ClientErrorCode.SESSION_REJECTED,
          `The server refused the WebSocket (close ${code})`,
          {
            closeCode: code,
          },
        ),
      );
      return;
    }
    if (code === CloseCode.SESSION_NOT_FOUND) this.#rejectedSessionId = this.#sentSessionId;
    this.#handover = code === HANDOVER_CLOSE_CODE;
    const error = new SessionClientError(
      code === CloseCode.SESSION_NOT_FOUND
        ? serverCode('SESSION_NOT_FOUND')
        : ClientErrorCode.NETWORK_ERROR,
      `WebSocket closed (${code ?? 'no code'})`,
      { closeCode: code },
    );
    this.lastError = error;
    hooks.onLost(error);
  }
}

/**
 * True when the server refused the session for good (a 4xx that sending it
 * again cannot change, such as `session.create` refusing a client-sent
 * `userId`): retrying would loop. Not 404 (the keeper replaces a lost
 * session), 408 or 429 (worth a retry later).
 */
export function isRefusal(error: SessionClientError): boolean {
  const status = error.httpStatus;
  return (
    status !== undefined &&
    status >= 400 &&
    status < 500 &&
    status !== 404 &&
    status !== 408 &&
    status !== 429
  );
}
