import { parseRetryAfter } from './backoff.js';
import type { FetchLike } from './base-options.js';
import { ClientErrorCode, plainBodyCode, SessionClientError } from './errors.js';
import { SESSION_HEADER } from './protocol.js';

/** Why a stream attempt failed, for the wait before the next one. */
export interface StreamFailure {
  error: SessionClientError;
  /** The server's `Retry-After`, in ms, when it sent one. */
  retryAfterMs?: number | undefined;
}

/** What a {@link SessionEventSource} reports and asks; one set per client. */
export interface EventSourceHooks {
  /** A source was created (by httpSubscriptionLink); it connects at once. */
  onCreated: (source: SessionEventSource) => void;
  /**
   * Runs before every attempt (the first with `failure` undefined): waits
   * the backoff after a failure and makes sure the session is one the
   * server knows. Rejects when the stream must stop for good (the client
   * closed, reconnects gave up, the server refused the session).
   */
  beforeConnect: (failure: StreamFailure | undefined) => Promise<void>;
  /** The session id to send now (`X-Session-Id`). */
  sessionId: () => string | undefined;
  /**
   * The server answered that the session `sentId` is gone (404
   * `SESSION_NOT_FOUND`, 400 `INVALID_SESSION_ID`): replace it, then the
   * stream reconnects with the new id. Resolves false when it could not.
   */
  sessionLost: (sentId: string, reason: 'not-found' | 'invalid') => Promise<boolean>;
  /** The server accepted the stream (200 `text/event-stream` for a known session). */
  onOpen: (source: SessionEventSource) => void;
  /** An open stream ended or failed; the source reconnects (after `beforeConnect`). */
  onDrop: (source: SessionEventSource, error: SessionClientError) => void;
  /**
   * The source closed for good: by `close()` (its subscription ended or
   * moved), or with `error`, a final refusal or a failed `beforeConnect`.
   */
  onClosed: (source: SessionEventSource, error?: SessionClientError) => void;
}

/** What httpSubscriptionLink hands the constructor (its `eventSourceOptions`). */
export interface SessionEventSourceInit {
  /** This stream counts as the client's connection (`session.events`). */
  primary?: boolean;
}

/** A message as EventSource dispatches it. */
export interface SessionMessageEvent {
  readonly type: string;
  readonly data: string;
  readonly lastEventId: string;
  /** Set on `error` events: why the stream failed. */
  readonly error?: SessionClientError | undefined;
}

type Listener = (event: SessionMessageEvent) => void;

/** The class httpSubscriptionLink constructs, bound to one client's hooks. */
export type SessionEventSourceClass = new (
  url: string,
  init?: SessionEventSourceInit,
) => SessionEventSource;

/** A stream that ran this long and ended cleanly reconnects at once, in ms. */
const QUICK_RECONNECT_AFTER_MS = 1_000;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/**
 * A small EventSource over `fetch`, for tRPC's `httpSubscriptionLink`: it
 * sends `X-Session-Id` (a browser's EventSource cannot send headers, and an
 * id in the URL would land in access logs), works where there is no
 * EventSource (Node 20), and reconnects the way the client's WebSocket
 * does: after the client's backoff (full jitter, `Retry-After` honoured,
 * held while offline), resuming with `Last-Event-ID`, after replacing a
 * session the server lost. Only a final error closes it (`readyState`
 * CLOSED, then an `error` event), which ends the subscription.
 *
 * Speaks the `text/event-stream` format: `event`, `data`, `id` and `retry`
 * fields (`retry` is ignored: the client's backoff decides), comments
 * (`:`) skipped, CRLF, CR or LF line ends.
 */
export class SessionEventSource {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSED = CLOSED;
  readonly url: string;
  readonly primary: boolean;
  readonly withCredentials = false;
  readyState: number = CONNECTING;
  /** The last event id received; sent as `Last-Event-ID` when reconnecting. */
  lastEventId = '';
  readonly #fetch: FetchLike;
  readonly #hooks: EventSourceHooks;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #abort = new AbortController();
  /** The stream ended cleanly and reconnects at once; a failure now is its loss. */
  #lingering = false;

  constructor(
    url: string,
    init: SessionEventSourceInit,
    fetchImpl: FetchLike,
    hooks: EventSourceHooks,
  ) {
    this.url = url;
    this.primary = init.primary === true;
    this.#fetch = fetchImpl;
    this.#hooks = hooks;
    hooks.onCreated(this);
    void this.#run();
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  /**
   * Ends the stream as the server ends a finished one (a `return` event,
   * on which tRPC completes the subscription), then closes it: what the
   * client's `close()` does to the streams still open.
   */
  finish(): void {
    if (this.readyState === CLOSED) return;
    this.#dispatch({ type: 'return', data: '', lastEventId: this.lastEventId });
    this.close();
  }

  /** Closes the stream for good; no event follows. */
  close(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.#abort.abort();
    this.#hooks.onClosed(this);
  }

  async #run(): Promise<void> {
    let failure: StreamFailure | undefined;
    for (;;) {
      try {
        await this.#hooks.beforeConnect(failure);
      } catch (error) {
        this.#fail(error);
        return;
      }
      if (this.readyState === CLOSED) return;
      const outcome = await this.#attempt();
      if (this.readyState === CLOSED) return;
      if (outcome.kind === 'final') {
        this.#fail(outcome.error);
        return;
      }
      this.readyState = CONNECTING;
      if (outcome.kind === 'ended') {
        // The server ended a stream that had run a while (its `maxDurationMs`,
        // a proxy's limit): reconnect at once with Last-Event-ID, still
        // connected unless that attempt fails.
        this.#lingering = true;
        failure = undefined;
        continue;
      }
      failure = outcome.kind === 'retry' ? outcome.failure : { error: outcome.error };
      if (outcome.kind === 'dropped' || (this.#lingering && failure !== undefined)) {
        this.#lingering = false;
        this.#hooks.onDrop(this, (failure as StreamFailure).error);
      }
      // A live EventSource says so with an `error` event while it reconnects.
      this.#dispatch({
        type: 'error',
        data: '',
        lastEventId: this.lastEventId,
        error: failure?.error,
      });
    }
  }

  /** One request: resolves how it ended. */
  async #attempt(): Promise<
    | { kind: 'retry'; failure: StreamFailure | undefined }
    | { kind: 'dropped'; error: SessionClientError }
    | { kind: 'ended' }
    | { kind: 'final'; error: unknown }
  > {
    const sentId = this.#hooks.sessionId();
    const headers: Record<string, string> = {
      Accept: 'text/event-stream',
      'Cache-Control': 'no-cache',
    };
    if (sentId !== undefined) headers[SESSION_HEADER] = sentId;
    if (this.lastEventId !== '') headers['Last-Event-ID'] = this.lastEventId;
    let response: Response;
    try {
      response = await this.#fetch(this.url, { headers, signal: this.#abort.signal });
    } catch (cause) {
      return { kind: 'retry', failure: { error: networkError('The event stream failed', cause) } };
    }
    if (!response.ok) return this.#refused(response, sentId);
    const type = response.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream') || response.body === null) {
      await response.body?.cancel().catch(() => {});
      const error = new SessionClientError(
        ClientErrorCode.UNEXPECTED_RESPONSE,
        `The event stream answered ${type || 'no content type'}`,
        { httpStatus: response.status },
      );
      return { kind: 'retry', failure: { error } };
    }
    this.readyState = OPEN;
    this.#lingering = false;
    this.#hooks.onOpen(this);
    this.#dispatch({ type: 'open', data: '', lastEventId: this.lastEventId });
    const openedAt = Date.now();
    try {
      await this.#read(response.body);
    } catch (cause) {
      if (this.readyState === CLOSED) return { kind: 'retry', failure: undefined };
      return { kind: 'dropped', error: networkError('The event stream was cut', cause) };
    }
    // Ended cleanly; one that ends at once is not retried at once (no loop).
    if (Date.now() - openedAt >= QUICK_RECONNECT_AFTER_MS) return { kind: 'ended' };
    return { kind: 'dropped', error: networkError('The event stream ended', undefined) };
  }

  /** A non-2xx answer: a lost session is replaced, 5xx/408/429 retried, other 4xx final. */
  async #refused(
    response: Response,
    sentId: string | undefined,
  ): Promise<
    { kind: 'retry'; failure: StreamFailure | undefined } | { kind: 'final'; error: unknown }
  > {
    const status = response.status;
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    const serverCode = plainBodyCode(body) ?? trpcBodyCode(body);
    const error = new SessionClientError(
      serverCode ??
        (status >= 500 ? ClientErrorCode.NETWORK_ERROR : ClientErrorCode.UNEXPECTED_RESPONSE),
      `The event stream was refused (${status})`,
      { httpStatus: status },
    );
    const lost =
      serverCode === 'SESSION_NOT_FOUND'
        ? 'not-found'
        : serverCode === 'INVALID_SESSION_ID'
          ? 'invalid'
          : undefined;
    if (lost !== undefined && sentId !== undefined) {
      // Replaced at once, like a socket closed with 4404; a second refusal in a row waits.
      if (await this.#hooks.sessionLost(sentId, lost).catch(() => false)) {
        return { kind: 'retry', failure: undefined };
      }
      return { kind: 'retry', failure: { error } };
    }
    if (status >= 500 || status === 408 || status === 429) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      return { kind: 'retry', failure: { error, retryAfterMs } };
    }
    return { kind: 'final', error };
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const onAbort = () => void reader.cancel().catch(() => {});
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    let buffer = '';
    let event = { type: '', data: [] as string[] };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.readyState === CLOSED) return;
        buffer += decoder.decode(value, { stream: true });
        // Complete lines only; a CR at the end may be half of a CRLF.
        for (;;) {
          const match = /\r\n|\r|\n/.exec(buffer);
          if (match === null || (match[0] === '\r' && match.index === buffer.length - 1)) break;
          const line = buffer.slice(0, match.index);
          buffer = buffer.slice(match.index + match[0].length);
          if (line === '') {
            if (event.data.length > 0) {
              this.#dispatch({
                type: event.type || 'message',
                data: event.data.join('\n'),
                lastEventId: this.lastEventId,
              });
            }
            event = { type: '', data: [] };
            if (this.readyState === CLOSED) return;
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          let value = colon === -1 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'event') event.type = value;
          else if (field === 'data') event.data.push(value);
          else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
        }
      }
    } finally {
      this.#abort.signal.removeEventListener('abort', onAbort);
    }
  }

  /** A final error: CLOSED first (the consumer reads readyState), then `error`. */
  #fail(cause: unknown): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.#abort.abort();
    const error =
      cause instanceof SessionClientError ? cause : networkError('The event stream failed', cause);
    this.#hooks.onClosed(this, error);
    this.#dispatch({ type: 'error', data: '', lastEventId: this.lastEventId, error });
  }

  #dispatch(event: SessionMessageEvent): void {
    for (const listener of [...(this.#listeners.get(event.type) ?? [])]) {
      try {
        listener(event);
      } catch (error) {
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }
}

/** The EventSource class for one client: `new (url, init)`, as httpSubscriptionLink calls it. */
export function sessionEventSourceClass(
  fetchImpl: FetchLike,
  hooks: EventSourceHooks,
): SessionEventSourceClass {
  return class extends SessionEventSource {
    constructor(url: string, init: SessionEventSourceInit = {}) {
      super(url, init, fetchImpl, hooks);
    }
  };
}

function networkError(message: string, cause: unknown): SessionClientError {
  return new SessionClientError(ClientErrorCode.NETWORK_ERROR, message, { cause });
}

/** The code of a tRPC error envelope (`{ error: { json: { data: { errorCode } } } }`), superjson or not. */
function trpcBodyCode(body: unknown): string | undefined {
  const error = (body as { error?: { json?: unknown } } | undefined)?.error;
  const shape = (error?.json ?? error) as { data?: { errorCode?: unknown } } | undefined;
  const found = shape?.data?.errorCode;
  return typeof found === 'string' ? found : undefined;
}
