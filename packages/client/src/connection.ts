import type { ClientConfig } from './client-config.js';
import type { Emitter } from './emitter.js';
import { clientClosedError, type SessionClientError } from './errors.js';
import { OnlineWatcher } from './online.js';
import type { SessionInfo } from './protocol.js';
import { ReconnectScheduler } from './reconnect.js';
import type { SessionClientEvents } from './session-events.js';
import { type ConnectionState, ConnectionStateMachine, type ConnectionStatus } from './state.js';

/** What carries the connection: the WebSocket, or the session's SSE stream. */
export interface ConnectionCarrier {
  /** Opens the connection over the transport in use (the first `connect()`). */
  open(): void;
  /** True while the socket, or the session's SSE stream, is open. */
  readonly isOpen: boolean;
  /** Why the socket or the stream last failed, if it did. */
  readonly lastError: SessionClientError | undefined;
  /** Back online with nothing open: over SSE, confirms the session again (nothing else would). */
  reopen(): void;
  /** Why `connect()` cannot start, if it cannot (no WebSocket for `transport: 'websocket'`). */
  refusal(): Error | undefined;
}

/** The session's side of the connection: what it does as the connection comes and goes. */
export interface ConnectionSession {
  /** The session as the server last reported it. */
  readonly session: SessionInfo | undefined;
  /** The id calls carry now. */
  readonly sessionId: string | undefined;
  /** Connected (again) after `previous`: heartbeats run, the event stream resumes. */
  connected(previous: ConnectionState): void;
  /** No longer connected: heartbeats stop. */
  disconnected(): void;
  /** The socket or the session's stream was lost: the event stream learns it first. */
  lost(): void;
}

/** The parts a connection works with, made after it. */
export interface ClientConnectionDeps {
  carrier: () => ConnectionCarrier;
  session: () => ConnectionSession;
}

interface Waiter {
  resolve: (session: SessionInfo) => void;
  reject: (error: unknown) => void;
}

/**
 * The client's connection state ({@link ConnectionStateMachine}) and what
 * moves it: `connect()`, the carrier's open and lost connection, the
 * reconnect scheduler (owned here: the backoff of every transport), the
 * browser's online/offline events and the shutdown. Every change is acted
 * on in one place: heartbeats, the event stream, `connect()`'s waiters and
 * the `state` event.
 */
export class ClientConnection {
  /** Spaces the reconnect attempts of the socket and of the SSE streams. */
  readonly scheduler: ReconnectScheduler;
  readonly #machine: ConnectionStateMachine;
  readonly #online: OnlineWatcher;
  readonly #emitter: Emitter<SessionClientEvents>;
  readonly #deps: ClientConnectionDeps;
  readonly #waiters = new Set<Waiter>();

  constructor(
    config: Pick<ClientConfig, 'reconnect' | 'retryDelayMs' | 'onlineEvents'>,
    emitter: Emitter<SessionClientEvents>,
    deps: ClientConnectionDeps,
  ) {
    this.#emitter = emitter;
    this.#deps = deps;
    this.#machine = new ConnectionStateMachine((state, previous) => this.#onState(state, previous));
    this.scheduler = new ReconnectScheduler({
      delayMs: config.retryDelayMs,
      maxAttempts: config.reconnect.maxAttempts,
      onSchedule: (attempt, delayMs) => this.#onReconnectScheduled(attempt, delayMs),
    });
    this.#online = new OnlineWatcher(config.onlineEvents, {
      online: () => this.#onOnline(),
      offline: () => this.#onOffline(),
    });
  }

  /** The current state, with its details. */
  get state(): ConnectionState {
    return this.#machine.state;
  }

  /** The current state's name. */
  get status(): ConnectionStatus {
    return this.#machine.status;
  }

  /** See `SessionClient.connect`: the first call opens the connection; each resolves once connected. */
  connect(): Promise<SessionInfo> {
    const status = this.#machine.status;
    if (status === 'closed') return Promise.reject(clientClosedError());
    const session = this.#deps.session().session;
    if (status === 'connected' && session !== undefined) return Promise.resolve(session);
    const refusal = status === 'idle' ? this.#deps.carrier().refusal() : undefined;
    if (refusal !== undefined) return Promise.reject(refusal);
    const waiting = new Promise<SessionInfo>((resolve, reject) => {
      this.#waiters.add({ resolve, reject });
    });
    if (status === 'idle') {
      this.#machine.transition({ status: 'connecting' });
      this.#online.attach();
      this.#deps.carrier().open();
    }
    return waiting;
  }

  /** Connects when nothing did yet: a subscription or a socket asked for before `connect()`. */
  connectIfIdle(): void {
    if (this.#machine.status === 'idle') void this.connect().catch(() => {});
  }

  /** The server accepted the socket, or the session's stream, for `sessionId`. */
  connected(sessionId: string): void {
    if (this.#machine.status !== 'connected') {
      this.#machine.tryTransition({ status: 'connected', sessionId });
    }
  }

  /** The socket or the session's SSE stream was lost. */
  lost(error: SessionClientError): void {
    this.#deps.session().lost();
    if (this.#machine.status !== 'connected') return;
    this.#machine.transition({
      status: 'reconnecting',
      attempt: this.scheduler.attempt,
      error,
    });
  }

  /** Stops listening to online/offline events (shutdown). */
  detach(): void {
    this.#online.detach();
  }

  /** The final state, with the error that closed the client, if one did. */
  closed(error: SessionClientError | undefined): void {
    this.#machine.transition({ status: 'closed', error });
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
      error: this.#deps.carrier().lastError,
    });
  }

  #onOffline(): void {
    const status = this.#machine.status;
    if (status === 'idle' || status === 'closed' || status === 'offline') return;
    this.scheduler.pause();
    this.#machine.transition({ status: 'offline' });
  }

  #onOnline(): void {
    const status = this.#machine.status;
    const sessionId = this.#deps.session().sessionId;
    if (status === 'offline') {
      const carrier = this.#deps.carrier();
      if (carrier.isOpen && sessionId !== undefined) {
        this.#machine.transition({ status: 'connected', sessionId });
      } else {
        this.#machine.transition({ status: 'reconnecting', attempt: 0, error: carrier.lastError });
        carrier.reopen();
      }
    }
    if (this.#machine.status !== 'closed') this.scheduler.wake();
  }

  /** The one place state changes are acted on and announced. */
  #onState(state: ConnectionState, previous: ConnectionState): void {
    const session = this.#deps.session();
    if (state.status === 'connected') {
      session.connected(previous);
      const info = session.session;
      if (info !== undefined) {
        for (const waiter of this.#takeWaiters()) waiter.resolve(info);
      }
    } else {
      session.disconnected();
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
}
