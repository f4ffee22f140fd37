import { httpSubscriptionLink, type Operation, type TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import superjson from 'superjson';
import type { FetchLike } from './base-options.js';
import {
  ClientErrorCode,
  clientClosedError,
  type SessionClientError,
  toSessionClientError,
} from './errors.js';
import {
  type SessionEventSource,
  type SessionEventSourceClass,
  type StreamFailure,
  sessionEventSourceClass,
} from './event-source.js';
import { sleep } from './fetch.js';
import type { ReconnectScheduler } from './reconnect.js';
import type { SessionKeeper } from './session-keeper.js';
import { isRefusal } from './socket.js';

/** What the SSE transport reports to the client, which owns the state machine. */
export interface SseTransportHooks {
  /** The session's event stream is open: the server accepted it for a session it knows. */
  onConnected: () => void;
  /** The open event stream was lost; it reconnects after the backoff. */
  onLost: (error: SessionClientError) => void;
  /** The server refused the stream for good (a 4xx), or reconnects gave up. */
  onFatal: (error: SessionClientError) => void;
  /** A stream starts (a subscription was made): the client connects if it has not yet. */
  onStream: () => void;
  /**
   * The last session stream closed before it opened (its subscription
   * ended): call {@link SseTransport.connect} unless connected.
   */
  onIdle: () => void;
  /** True once the client is closing. */
  closed: () => boolean;
}

/** What {@link SseTransport} works with. */
export interface SseTransportDeps {
  /** HTTP URL of the tRPC endpoint. */
  url: string;
  fetch: FetchLike;
  scheduler: ReconnectScheduler;
  /** The client's keeper (a function: it is made after the links). */
  keeper: () => SessionKeeper;
  /** Aborted when the client closes: a `Retry-After` wait ends. */
  signal: AbortSignal;
  hooks: SseTransportHooks;
}

/**
 * Subscriptions over Server-Sent Events: tRPC's `httpSubscriptionLink`
 * with a {@link SessionEventSource} of the client's own, so each stream
 * sends `X-Session-Id` and reconnects by the client's rules. The session's
 * `session.events` stream is the connection (as the socket is over
 * WebSocket): its opening makes the client `connected`, its loss
 * `reconnecting`. Every attempt waits the shared {@link ReconnectScheduler}
 * (full jitter, held while offline, woken by `online`), and at least the
 * `Retry-After` of a 503/429 answer.
 */
export class SseTransport {
  readonly #deps: SseTransportDeps;
  readonly #sources = new Set<SessionEventSource>();
  readonly #open = new Set<SessionEventSource>();
  /** The EventSource class handed to httpSubscriptionLink. */
  readonly EventSource: SessionEventSourceClass;
  /** Why the last stream or attempt failed. */
  lastError: SessionClientError | undefined;
  #connecting = false;
  #ensuring: Promise<void> | undefined;

  constructor(deps: SseTransportDeps) {
    this.#deps = deps;
    this.EventSource = sessionEventSourceClass(deps.fetch, {
      onCreated: (source) => {
        this.#sources.add(source);
        deps.hooks.onStream();
      },
      beforeConnect: (failure) => this.#beforeConnect(failure),
      sessionId: () => deps.keeper().id,
      sessionLost: (sentId, reason) => deps.keeper().replace(sentId, reason),
      onOpen: (source) => this.#onOpen(source),
      onDrop: (source, error) => this.#onDrop(source, error),
      onClosed: (source, error) => this.#onClosed(source, error),
    });
  }

  /** True while the session's event stream is open. */
  get open(): boolean {
    return this.#open.size > 0;
  }

  /** Streams alive (open or reconnecting). */
  get streamCount(): number {
    return this.#sources.size;
  }

  /** The terminating link for subscriptions. */
  link<TRouter extends AnyRouter>(): TRPCLink<TRouter> {
    return httpSubscriptionLink({
      url: this.#deps.url,
      transformer: superjson,
      EventSource: this.EventSource,
      eventSourceOptions: ({ op }: { op: Operation }) => ({
        primary: op.path === 'session.events',
      }),
    } as unknown as Parameters<typeof httpSubscriptionLink<TRouter, SessionEventSourceClass>>[0]);
  }

  /** Ends every stream; their subscriptions complete, as over a closed WebSocket. */
  close(): void {
    for (const source of [...this.#sources]) source.finish();
  }

  /**
   * Confirms the session over HTTP (`session.get`, or a new one), with the
   * backoff while the server is unreachable, then reports `onConnected`:
   * what makes an SSE client connected while no event stream is open (none
   * subscribed yet, or the last one just ended). Once at a time.
   */
  connect(): void {
    if (this.#connecting) return;
    this.#connecting = true;
    void this.#retrying(undefined, () => this.#ensure(true)).then(
      () => {
        this.#connecting = false;
        if (!this.#deps.hooks.closed()) this.#deps.hooks.onConnected();
      },
      () => {
        this.#connecting = false;
      },
    );
  }

  /** Before a stream's attempt: the backoff after `failure`, and a session the server knows. */
  #beforeConnect(failure: StreamFailure | undefined): Promise<void> {
    return this.#retrying(failure, () => this.#ensure(false));
  }

  /**
   * Runs `step` after the wait `failure` asks for, again after the backoff
   * while it fails; rejects when the client closes, and (after `onFatal`)
   * when reconnects gave up or the server refused the session.
   */
  async #retrying(failure: StreamFailure | undefined, step: () => Promise<void>): Promise<void> {
    const { hooks } = this.#deps;
    let pending = failure;
    for (;;) {
      try {
        if (pending !== undefined) await this.#wait(pending);
        if (hooks.closed()) throw clientClosedError();
        await step();
        if (hooks.closed()) throw clientClosedError();
        return;
      } catch (error) {
        const failed = toSessionClientError(error);
        if (failed.code === ClientErrorCode.CLIENT_CLOSED || hooks.closed()) throw failed;
        if (failed.code === ClientErrorCode.RECONNECT_FAILED || isRefusal(failed)) {
          hooks.onFatal(failed);
          throw failed;
        }
        // The server is unreachable (or busy) before the stream: wait and try again.
        this.lastError = failed;
        pending = { error: failed };
      }
    }
  }

  /** `keeper.ensure()` (when `always`, or the session is not verified yet), one at a time. */
  #ensure(always: boolean): Promise<void> {
    const keeper = this.#deps.keeper();
    if (!always && keeper.verified && this.#ensuring === undefined) return Promise.resolve();
    this.#ensuring ??= keeper.ensure().finally(() => {
      this.#ensuring = undefined;
    });
    return this.#ensuring;
  }

  /** The backoff, and at least the server's `Retry-After` (plus up to 20% jitter). */
  async #wait(failure: StreamFailure): Promise<void> {
    this.lastError = failure.error;
    const started = Date.now();
    await this.#deps.scheduler.wait();
    const retryAfterMs = failure.retryAfterMs ?? 0;
    const rest = retryAfterMs - (Date.now() - started);
    if (rest > 0) await sleep(rest + Math.random() * retryAfterMs * 0.2, this.#deps.signal);
  }

  #onOpen(source: SessionEventSource): void {
    if (!source.primary || this.#deps.hooks.closed()) return;
    this.lastError = undefined;
    this.#deps.scheduler.reset();
    this.#open.add(source);
    this.#deps.hooks.onConnected();
  }

  #onDrop(source: SessionEventSource, error: SessionClientError): void {
    this.lastError = error;
    if (!this.#open.delete(source) || this.#deps.hooks.closed()) return;
    if (this.#open.size === 0) this.#deps.hooks.onLost(error);
  }

  #onClosed(source: SessionEventSource, error: SessionClientError | undefined): void {
    this.#sources.delete(source);
    const wasOpen = this.#open.delete(source);
    if (!source.primary || this.#deps.hooks.closed()) return;
    if (error === undefined) {
      // The stream ended (unsubscribed, or moved) before it opened: nothing
      // may be left to make the client connected again.
      if (!wasOpen && ![...this.#sources].some((other) => other.primary)) {
        this.#deps.hooks.onIdle();
      }
      return;
    }
    // A final refusal of the session's stream: the connection cannot be had.
    if (error.code !== ClientErrorCode.CLIENT_CLOSED && isRefusal(error)) {
      this.#deps.hooks.onFatal(error);
    } else if (wasOpen && this.#open.size === 0) {
      this.#deps.hooks.onLost(error);
    }
  }
}
