import type { SessionClientError } from './errors.js';

/** The names of the connection states. */
export type ConnectionStatus =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'reconnecting'
  | 'offline'
  | 'closed';

/**
 * The client's connection state: one discriminated union on `status`,
 * changed only through {@link ConnectionStateMachine.transition}.
 *
 * - `idle`: created, `connect()` not called yet.
 * - `connecting`: resuming the stored session or creating one, then opening the socket.
 * - `connected`: the session is known to the server and the WebSocket is open (over
 *   SSE: the session's event stream is open, or with none subscribed, the session was
 *   confirmed over HTTP).
 * - `reconnecting`: the connection was lost; attempt `attempt` is waiting its backoff
 *   or running (the `reconnect` event gives each attempt's delay).
 * - `offline`: the browser reported `offline`; nothing is attempted until `online`.
 * - `closed`: `close()` was called, or the server refused the session (`error`); final.
 */
export type ConnectionState =
  | { readonly status: 'idle' }
  | { readonly status: 'connecting' }
  | { readonly status: 'connected'; readonly sessionId: string }
  | {
      readonly status: 'reconnecting';
      /** The attempt now waiting or running; 0 for the first retry after the loss. */
      readonly attempt: number;
      /** Why the previous connection or attempt failed, when known. */
      readonly error?: SessionClientError | undefined;
    }
  | { readonly status: 'offline' }
  | { readonly status: 'closed'; readonly error?: SessionClientError | undefined };

/**
 * Which state may follow which. `reconnecting → reconnecting` is the next
 * attempt; `closed` is final. Anything else is a bug and throws.
 */
export const connectionTransitions: Readonly<
  Record<ConnectionStatus, readonly ConnectionStatus[]>
> = {
  idle: ['connecting', 'closed'],
  connecting: ['connected', 'reconnecting', 'offline', 'closed'],
  connected: ['reconnecting', 'offline', 'closed'],
  reconnecting: ['reconnecting', 'connected', 'offline', 'closed'],
  offline: ['reconnecting', 'connected', 'closed'],
  closed: [],
};

/** Listener of state changes: the new state and the one it replaced. */
export type StateListener = (state: ConnectionState, previous: ConnectionState) => void;

/** True when `to` may follow `from`. */
export function canTransition(from: ConnectionStatus, to: ConnectionStatus): boolean {
  return connectionTransitions[from].includes(to);
}

/**
 * Holds the connection state and is the only place that changes it: every
 * change is checked against {@link connectionTransitions} and announced to
 * the listener given at construction.
 *
 * @example
 * const machine = new ConnectionStateMachine((state) => console.log(state.status));
 * machine.transition({ status: 'connecting' });
 */
export class ConnectionStateMachine {
  #state: ConnectionState = { status: 'idle' };
  readonly #onChange: StateListener;

  constructor(onChange: StateListener) {
    this.#onChange = onChange;
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The current state's name. */
  get status(): ConnectionStatus {
    return this.#state.status;
  }

  /**
   * Moves to `next` and announces it.
   * @throws Error when `next.status` may not follow the current status.
   */
  transition(next: ConnectionState): void {
    const previous = this.#state;
    if (!canTransition(previous.status, next.status)) {
      throw new Error(`Invalid connection state transition ${previous.status} → ${next.status}`);
    }
    this.#state = next;
    this.#onChange(next, previous);
  }

  /** Like {@link transition}, but does nothing when the move is not allowed. */
  tryTransition(next: ConnectionState): boolean {
    if (!canTransition(this.#state.status, next.status)) return false;
    this.transition(next);
    return true;
  }
}
