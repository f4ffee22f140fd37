/**
 * The core of Morgan Sessions: `SessionManager`, the `MemoryStore` and the `Store`
 * interface, the event log, errors with stable codes and the validated config
 * loader. Transports are in the subpath entries `./express`, `./trpc`, `./ws`
 * and `./redis`, the conformance suites for other stores in `./testing`;
 * none of them is imported here.
 *
 * @module \@morgan/session-server
 */

export {
  GradientLimit,
  type GradientLimitClock,
  type GradientLimitOptions,
  gradientLimitDefaults,
} from './capacity/gradient-limit.js';
export type { RequestClass } from './capacity/request-class.js';
export {
  CapacityLimiter,
  type CapacityLimiterOptions,
  type CapacityOptions,
  capacityDefaults,
  capacityLimiterDefaults,
} from './capacity.js';
export { configVariables, loadConfig, type MorganConfig } from './config.js';
export type { AllowedOrigins, OriginCheck } from './cross-origin.js';
export {
  CapacityError,
  ConfigError,
  ErrorCode,
  errorCodeInfo,
  InvalidMetadataError,
  InvalidSessionIdError,
  isErrorCode,
  MorganError,
  RateLimitedError,
  type RateLimitState,
  RequestInProgressError,
  SessionNotFoundError,
  StoreUnavailableError,
  toMorganError,
  VersionConflictError,
} from './errors.js';
export {
  compareEventIds,
  type EventLog,
  type EventLogOptions,
  type EventLogSettings,
  eventLogDefaults,
  GAP_EVENT_TYPE,
  type GapEventData,
  type ReadAfterResult,
  type SessionEvent,
  type SessionEventListener,
} from './events/event-log.js';
export { MemoryEventLog } from './events/memory-event-log.js';
export {
  type EventStreamEnd,
  type EventStreamOptions,
  eventStreamDefaults,
  streamSessionEvents,
} from './events/stream.js';
export {
  type SessionEndedEvent,
  SessionManager,
  type SessionManagerEvents,
  type SessionManagerOptions,
  type SessionMetrics,
  type SessionRotatedEvent,
  sessionManagerDefaults,
  type TrackedRequest,
} from './manager.js';
export {
  DEFAULT_MAX_METADATA_BYTES,
  type JsonObject,
  type JsonPrimitive,
  type JsonValue,
} from './metadata.js';
export {
  getSessionManager,
  initializeSessionManager,
  resetSessionManager,
} from './process-manager.js';
export {
  CloseCode,
  type ConnectionParams,
  type ErrorBody,
  type ErrorCodeInfo,
  errorMessage,
  type GapEvent,
  type HeartbeatResult,
  IDEMPOTENCY_HEADER,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type MorganErrorData,
  RESERVED_EVENT_TYPES,
  RETRYABLE_STATUSES,
  ROTATED_EVENT_TYPE,
  type RotatedEvent,
  type RotatedEventData,
  SESSION_HEADER,
  type SessionEventsInput,
} from './protocol.js';
export {
  memoryRateLimiter,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitPolicy,
} from './rate-limit.js';
export { redact, redactError } from './redact.js';
export {
  type CreateSessionInput,
  isSessionId,
  type Session,
  type SessionRecord,
} from './session.js';
export type {
  StoreCapability,
  StoreFallback,
  StoreFallbackWarning,
} from './store/capabilities.js';
export { MemoryStore } from './store/memory.js';
export type {
  CrossNodeEvents,
  IdempotencyClaim,
  IdempotencyKeys,
  RotateChanges,
  SessionListing,
  SharedRateLimits,
  Store,
  StoreCapabilities,
  StoreCore,
  StoreEvent,
  StoreSettings,
  SyncRequests,
} from './store/store.js';
export {
  StreamBudget,
  type StreamBudgetOptions,
  type StreamRefusal,
  streamBudgetDefaults,
} from './streams.js';
