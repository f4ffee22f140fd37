import type { TRPCLink, TRPCWebSocketClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { TransportFallbackOptions } from './base-options.js';
import type { ClientSocketEncoder } from './idempotency-key.js';
import type { ReconnectScheduler } from './reconnect.js';
import type { sharedConnection } from './shared/shared-socket.js';
import type { SseTransport, SseTransportDeps } from './sse.js';
import type { TransportControl, TransportControllerHooks } from './transport.js';
import type { SubscriptionRoute } from './transport-switch.js';
import type { TrialScheduler } from './trial-scheduler.js';

// The opt-in capabilities, as the core sees them: it imports these types
// only, so a bundle holds a capability's code only where the app imports
// its entry (`/sse`, `/shared`, `/idempotency`) and passes it as an option.

/**
 * SSE subscriptions, alone or as the WebSocket's fallback: what
 * `sseTransport()` of `@morgan/session-client/sse` returns, for the
 * `transport` option.
 */
export interface SseTransportPlugin {
  /** `'auto'`: the WebSocket first, SSE when it fails; `'sse'`: SSE only. */
  readonly mode: 'auto' | 'sse';
  controller(
    options: TransportFallbackOptions,
    hasWebSocket: boolean,
    hooks: TransportControllerHooks,
  ): TransportControl;
  sse(deps: SseTransportDeps): SseTransport;
  trial(main: ReconnectScheduler): TrialScheduler;
  switchLink<TRouter extends AnyRouter>(route: SubscriptionRoute<TRouter>): TRPCLink<TRouter>;
}

/**
 * One WebSocket per browser for every tab: what `sharedConnection()` of
 * `@morgan/session-client/shared` returns, for the `connection` option.
 */
export type SharedConnectionPlugin = ReturnType<typeof sharedConnection>;

/**
 * Idempotency keys on mutations: what `idempotencyKeys()` of
 * `@morgan/session-client/idempotency` returns, for the `idempotencyKeys` option.
 */
export interface IdempotencyKeysPlugin {
  /** Stamp every mutation with a key (else only those passing `context.idempotencyKey`). */
  readonly stamp: boolean;
  link<TRouter extends AnyRouter>(): TRPCLink<TRouter>;
  wsClient(client: TRPCWebSocketClient): TRPCWebSocketClient;
  encoder: ClientSocketEncoder;
}
