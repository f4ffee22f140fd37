/**
 * Server-Sent Events for subscriptions, alone or as the WebSocket's
 * fallback: pass `sseTransport()` as the client's `transport` option.
 * Costs nothing in a bundle that does not import it.
 *
 * @module \@morgan/session-client/sse
 */
export type { SseTransportPlugin } from '../plugins.js';
export { sseTransport } from '../sse-transport.js';
