import type { TransportFallbackOptions } from './base-options.js';
import type { SessionClientError } from './errors.js';
import type { TransportEvent, TransportKind } from './session-events.js';
import type { SessionSocketHooks } from './socket.js';
import type { TransportControl, TransportMode } from './transport-control.js';

export type { TransportControl } from './transport-control.js';

/** What the controller asks of the client. */
export interface TransportControllerHooks {
  /** True when a plain HTTP call to the server succeeds now. */
  httpWorks: () => Promise<boolean>;
  /**
   * The transport changed, and running subscriptions moved already: retire
   * the socket (to SSE) or the SSE streams (to WebSocket).
   */
  onChange: (event: TransportEvent) => void;
  /** Open a socket to try the WebSocket again (while on SSE). */
  tryWebSocket: () => void;
  /** Close the socket that tried and failed (while on SSE). */
  dropTrialSocket: () => void;
  /** True once the client is closing. */
  closed: () => boolean;
}

/**
 * Decides which transport carries subscriptions. `'websocket'` and `'sse'`
 * never change. `'auto'` starts on the WebSocket and moves to SSE when
 * sockets fail while HTTP works: `failures` sockets in a row closed before
 * the server confirmed them, or none confirmed within `timeoutMs`. On SSE
 * it opens a socket again every `retryWebSocketMs` (jittered); once the
 * server confirms one, subscriptions move back to it (each resumes from its
 * last event id, so none is lost or repeated).
 */
export class TransportController implements TransportControl {
  readonly mode: TransportMode;
  readonly #options: TransportFallbackOptions;
  readonly #hooks: TransportControllerHooks;
  readonly #listeners = new Set<() => void>();
  #current: TransportKind;
  #confirmed = false;
  #failures = 0;
  #checking = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #trialTimer: ReturnType<typeof setTimeout> | undefined;
  #trial = false;
  /** A check found HTTP down since the last confirmed socket: the server is down, not the WebSocket. */
  #httpFailed = false;
  #closed = false;

  constructor(
    mode: TransportMode,
    options: TransportFallbackOptions,
    hasWebSocket: boolean,
    hooks: TransportControllerHooks,
  ) {
    this.mode = mode;
    this.#options = options;
    this.#hooks = hooks;
    // 'auto' without any WebSocket implementation can only use SSE.
    this.#current = mode === 'sse' || (mode === 'auto' && !hasWebSocket) ? 'sse' : 'websocket';
  }

  /** The transport subscriptions use now. */
  get current(): TransportKind {
    return this.#current;
  }

  /** True while a socket opened on SSE tries the WebSocket again. */
  get trying(): boolean {
    return this.#trial;
  }

  /** Calls `listener` after every change of `current`; returns its removal. */
  onSwitch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A WebSocket was created (the client wraps the constructor): unless it
   * is confirmed or closes within `timeoutMs`, it hangs, and the client
   * checks HTTP and moves to SSE.
   */
  socketCreated(): void {
    if (this.mode !== 'auto' || this.#current !== 'websocket' || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#confirmed) this.#check('timeout');
    }, this.#options.timeoutMs);
  }

  /**
   * The WebSocket constructor to give a socket: with `'auto'`, one that
   * tells {@link socketCreated} of each socket it creates; else
   * `WebSocketImpl` itself.
   */
  watch(WebSocketImpl: unknown): unknown {
    if (this.mode !== 'auto') return WebSocketImpl;
    const controller = this;
    const Base = WebSocketImpl as new (url: string, protocols?: string | string[]) => object;
    return class extends Base {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        controller.socketCreated();
      }
    };
  }

  /**
   * Wraps a socket's hooks: sockets that fail before they are confirmed
   * count towards the fallback, and while on SSE a socket is a trial whose
   * confirmation moves subscriptions back and whose failure is not a loss.
   */
  socketHooks(hooks: SessionSocketHooks): SessionSocketHooks {
    if (this.mode !== 'auto') return hooks;
    return {
      ...hooks,
      onConnected: (session) => {
        this.#confirmed = true;
        this.#failures = 0;
        this.#httpFailed = false;
        this.#disarm();
        if (this.#current === 'sse') {
          this.#trial = false;
          clearTimeout(this.#trialTimer);
          this.#switch('websocket', 'websocket-restored');
        }
        hooks.onConnected(session);
      },
      onLost: (error) => {
        if (this.#current === 'sse') {
          this.#trialFailed();
          return;
        }
        this.#disarm();
        if (this.#confirmed) {
          this.#confirmed = false;
        } else {
          this.#failures += 1;
          if (this.#failures >= this.#options.failures) this.#check('failures');
        }
        hooks.onLost(error);
      },
      onFatal: (error: SessionClientError) => {
        if (this.#current === 'sse') this.#trialFailed();
        else hooks.onFatal(error);
      },
    };
  }

  /** Stops every timer. */
  close(): void {
    this.#closed = true;
    this.#disarm();
    clearTimeout(this.#trialTimer);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Sockets fail: when HTTP works, the WebSocket is what is blocked. A
   * socket that hangs past `timeoutMs` while HTTP works is enough. After
   * `failures` closed sockets, HTTP working now is enough too, unless a
   * check found HTTP down since the last confirmed socket: then those
   * sockets may have failed while the whole server was down, and `failures`
   * more must fail (with HTTP known to work) first.
   */
  #check(why: 'failures' | 'timeout'): void {
    if (this.#checking || this.#closed || this.#current === 'sse') return;
    this.#checking = true;
    this.#hooks.httpWorks().then(
      (works) => {
        this.#checking = false;
        if (this.#closed || this.#hooks.closed() || this.#current === 'sse' || this.#confirmed)
          return;
        if (!works || (why === 'failures' && this.#httpFailed)) {
          // The server is (or was) down, not the WebSocket blocked: keep
          // trying it, counting failures afresh; those that fail from now
          // on, with HTTP known to work, count.
          this.#httpFailed = !works;
          this.#failures = 0;
          return;
        }
        this.#failures = 0;
        this.#disarm();
        this.#switch('sse', 'websocket-refused');
        this.#scheduleTrial();
      },
      () => {
        this.#checking = false;
      },
    );
  }

  #scheduleTrial(): void {
    clearTimeout(this.#trialTimer);
    if (this.#closed) return;
    const delay = this.#options.retryWebSocketMs * (0.5 + Math.random());
    this.#trialTimer = setTimeout(() => {
      if (this.#closed || this.#hooks.closed() || this.#current !== 'sse') return;
      this.#trial = true;
      this.#hooks.tryWebSocket();
      // A socket that is neither confirmed nor closed in time counts as failed.
      this.#trialTimer = setTimeout(() => this.#trialFailed(), this.#options.timeoutMs);
    }, delay);
  }

  #trialFailed(): void {
    if (!this.#trial) return;
    this.#trial = false;
    clearTimeout(this.#trialTimer);
    this.#hooks.dropTrialSocket();
    this.#scheduleTrial();
  }

  #switch(next: TransportKind, reason: TransportEvent['reason']): void {
    const previous = this.#current;
    if (previous === next) return;
    this.#current = next;
    // Subscriptions move first, then the old transport is retired: closing
    // it first would end them instead.
    for (const listener of [...this.#listeners]) listener();
    this.#hooks.onChange({ transport: next, previous, reason });
  }
}
