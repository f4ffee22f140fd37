import type { TransportKind } from './session-events.js';
import type { SessionSocketHooks } from './socket.js';

/** What carries subscriptions: the `transport` option as the client runs it. */
export type TransportMode = 'auto' | 'websocket' | 'sse';

/**
 * What decides which transport carries subscriptions, as the client's
 * socket and links use it: {@link websocketOnly} in the core, the
 * `TransportController` of `sseTransport()` for `'sse'` and `'auto'`.
 */
export interface TransportControl {
  readonly mode: TransportMode;
  /** The transport subscriptions use now. */
  readonly current: TransportKind;
  /** True while a socket opened on SSE tries the WebSocket again. */
  readonly trying: boolean;
  /** Calls `listener` after every change of `current`; returns its removal. */
  onSwitch(listener: () => void): () => void;
  /** The WebSocket constructor to give a socket. */
  watch(WebSocketImpl: unknown): unknown;
  /** Wraps a socket's hooks. */
  socketHooks(hooks: SessionSocketHooks): SessionSocketHooks;
  /** Stops every timer. */
  close(): void;
}

/** The transport of a client without `sseTransport()`: the WebSocket, always. */
export const websocketOnly: TransportControl = {
  mode: 'websocket',
  current: 'websocket',
  trying: false,
  onSwitch: () => () => {},
  watch: (WebSocketImpl) => WebSocketImpl,
  socketHooks: (hooks) => hooks,
  close: () => {},
};
