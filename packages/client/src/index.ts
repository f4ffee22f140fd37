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

export {
  type BackoffOptions,
  backoffCeiling,
  backoffDefaults,
  fullJitterBackoff,
  parseRetryAfter,
} from './backoff.js';
export { type CloseOptions, SessionClient } from './client.js';
export {
  ClientErrorCode,
  isNetworkError,
  SessionClientError,
  type SessionClientErrorDetails,
  serverErrorCode,
} from './errors.js';
export {
  type GapEvent,
  isGapEvent,
  isRotatedEvent,
  type RotatedEvent,
  type RotatedEventData,
  type SessionEvent,
  type SessionEventHandler,
} from './events.js';
export type { SessionFetch, SessionFetchInit } from './fetch.js';
export { type HeartbeatReport, type HeartbeatResult, heartbeatIntervalFor } from './heartbeat.js';
export { httpRetryDelay, SESSION_HEADER, type SessionCallContext } from './http.js';
export {
  type ConnectionMode,
  type FetchLike,
  type HttpRetryOptions,
  httpRetryDefaults,
  type JsonObject,
  type JsonValue,
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
export type {
  ConnectionParams,
  CreateSessionInput,
  ErrorBody,
  ErrorCode,
  GapEventData,
  SessionInfo,
} from './protocol.js';
export { CloseCode, GAP_EVENT_TYPE, RETRYABLE_STATUSES, ROTATED_EVENT_TYPE } from './protocol.js';
export type {
  ReconnectEvent,
  SessionClientEvents,
  SessionReplacedEvent,
  SessionRotatedEvent,
  TransportEvent,
  TransportKind,
} from './session-events.js';
export { createMemoryLocks, type LockManagerLike } from './shared/locks.js';
export type { BroadcastChannelConstructor, BroadcastChannelLike } from './shared/messages.js';
export { HANDOVER_CLOSE_CODE } from './shared/messages.js';
export {
  type ConnectionState,
  type ConnectionStatus,
  canTransition,
  connectionTransitions,
} from './state.js';
export { createMemoryStorage, type StorageLike, type StorageOption } from './storage.js';

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
