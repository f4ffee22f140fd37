/**
 * The typed client SDK of Morgan Sessions for browsers and Node 20+:
 * `createSessionClient<AppRouter>(options)` and what its options, events and
 * errors are made of.
 *
 * @module \@morgan/session-client
 */
import type { AnyRouter } from '@trpc/server';
import { SessionClient } from './client.js';
import type { SessionClientOptions } from './options.js';

// What the docs describe, and the types of its signatures. Helpers that
// only the SDK and its tests use stay in their modules (tests import them
// from there); `import-graph.test.ts` and `package.test.ts` guard this file.
export { type BackoffOptions, fullJitterBackoff } from './backoff.js';
export { type CloseOptions, SessionClient } from './client.js';
export {
  ClientErrorCode,
  SessionClientError,
  type SessionClientErrorDetails,
} from './errors.js';
export { isGapEvent, isRotatedEvent, type SessionEventHandler } from './events.js';
export type { SessionFetch, SessionFetchInit } from './fetch.js';
export type { HeartbeatReport } from './heartbeat.js';
export type { SessionCallContext } from './http.js';
export {
  type ConnectionMode,
  type FetchLike,
  type HttpRetryOptions,
  httpRetryDefaults,
  type LazyOptions,
  lazyDefaults,
  type OnlineEventSource,
  type ReconnectOptions,
  reconnectDefaults,
  type SessionClientOptions,
  sessionClientDefaults,
  type TransportFallbackOptions,
  type TransportOption,
  transportFallbackDefaults,
  type WebSocketLike,
} from './options.js';
export {
  CloseCode,
  type ConnectionParams,
  type CreateSessionInput,
  type ErrorBody,
  type ErrorCode,
  GAP_EVENT_TYPE,
  type GapEvent,
  type GapEventData,
  type HeartbeatResult,
  type JsonObject,
  type JsonValue,
  RETRYABLE_STATUSES,
  ROTATED_EVENT_TYPE,
  type RotatedEvent,
  type RotatedEventData,
  SESSION_HEADER,
  type SessionEvent,
  type SessionInfo,
} from './protocol.js';
export type {
  ReconnectEvent,
  SessionClientEvents,
  SessionReplacedEvent,
  SessionRotatedEvent,
  TransportEvent,
  TransportKind,
} from './session-events.js';
export type { LockManagerLike } from './shared/locks.js';
export type { BroadcastChannelConstructor, BroadcastChannelLike } from './shared/messages.js';
export type { ConnectionState, ConnectionStatus } from './state.js';
export type { StorageLike, StorageOption } from './storage.js';

/**
 * Creates a session-aware tRPC client for a Morgan server. Call `connect()`
 * to resume the stored session (or create one) and open the WebSocket.
 *
 * @example
 * import type { AppRouter } from '../server/router';
 * const client = createSessionClient<AppRouter>({ url: 'http://localhost:3000' });
 * client.on('state', (state) => console.log(state.status));
 * await client.connect();
 * const reply = await client.trpc.chat.send.mutate({ message: 'hi' });
 * await client.close({ endSession: true });
 */
export function createSessionClient<TRouter extends AnyRouter>(
  options: SessionClientOptions,
): SessionClient<TRouter> {
  return new SessionClient<TRouter>(options);
}
