import type { AnyRouter } from '@trpc/server';
import type { SseTransportPlugin } from './plugins.js';
import { SseTransport } from './sse.js';
import { TransportController } from './transport.js';
import { transportSwitchLink } from './transport-switch.js';
import { TrialScheduler } from './trial-scheduler.js';

/**
 * Subscriptions over Server-Sent Events (tRPC's `httpSubscriptionLink`),
 * for the client's `transport` option. `'auto'` (the default) starts on the
 * WebSocket and moves to SSE when upgrades fail while HTTP works (see the
 * client's `transportFallback`), trying the WebSocket again every 30 s or
 * so; `'sse'` uses SSE only, with calls over HTTP and no socket. Same
 * states, backoff and resume by last event id on both; `client.transport`
 * and `on('transport')` say which is in use. Without it, the client uses
 * the WebSocket only.
 *
 * @example
 * import { sseTransport } from '@morgan/session-client/sse';
 * const client = createSessionClient<AppRouter>({ url, transport: sseTransport() });
 */
export function sseTransport(mode: 'auto' | 'sse' = 'auto'): SseTransportPlugin {
  return {
    mode,
    controller: (options, hasWebSocket, hooks) =>
      new TransportController(mode, options, hasWebSocket, hooks),
    sse: (deps) => new SseTransport(deps),
    trial: (main) => new TrialScheduler(main),
    switchLink: <TRouter extends AnyRouter>(
      route: Parameters<typeof transportSwitchLink<TRouter>>[0],
    ) => transportSwitchLink<TRouter>(route),
  };
}
