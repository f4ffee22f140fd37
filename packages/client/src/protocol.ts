/**
 * The client's side of the wire protocol. Every type comes from the server's
 * protocol module (`@morgan/session-server/protocol`), imported type-only so
 * that no server code reaches a browser bundle. The few values the client
 * needs at run time are literals checked against the server's types: if the
 * server's header, close codes, codes or statuses change, this file stops
 * compiling.
 */
import type * as Protocol from '@morgan/session-server/protocol';

export type {
  ConnectionParams,
  CreateSessionInput,
  ErrorBody,
  ErrorCode,
  GapEvent,
  GapEventData,
  HeartbeatResult,
  JsonObject,
  JsonValue,
  MuxClientEnvelope,
  MuxServerEnvelope,
  RotatedEvent,
  RotatedEventData,
  Session as SessionInfo,
  SessionEvent,
  SessionEventsInput,
} from '@morgan/session-server/protocol';

/** Header that carries the session id on every HTTP request. */
export const SESSION_HEADER: typeof Protocol.SESSION_HEADER = 'X-Session-Id';

/** The type of the event announcing missed events that are no longer buffered. */
export const GAP_EVENT_TYPE: typeof Protocol.GAP_EVENT_TYPE = 'gap';

/**
 * The type of the last event of a stream whose session was rotated
 * (`manager.rotateSession`); its data names the new id. The client follows
 * it and never hands it to event handlers.
 */
export const ROTATED_EVENT_TYPE: typeof Protocol.ROTATED_EVENT_TYPE = 'session.rotated';

/** Query parameter of the WebSocket URL that asks for a shared socket (`/trpc?mux=1`). */
export const MUX_QUERY_PARAM: typeof Protocol.MUX_QUERY_PARAM = 'mux';

/** HTTP statuses retried after `Retry-After` by default. */
export const RETRYABLE_STATUSES: typeof Protocol.RETRYABLE_STATUSES = [503, 429];

/** The server's WebSocket close codes the client acts on. */
export const CloseCode = {
  /** Server shutting down: reconnect (elsewhere). */
  GOING_AWAY: 1001,
  /** Missing or malformed session parameters: an error, never retried. */
  BAD_SESSION: 4400,
  /** Origin not allowed: an error, never retried. */
  FORBIDDEN: 4403,
  /** Unknown, expired or deleted session: get a new one, then reconnect. */
  SESSION_NOT_FOUND: 4404,
} as const satisfies Pick<
  typeof Protocol.CloseCode,
  'GOING_AWAY' | 'BAD_SESSION' | 'FORBIDDEN' | 'SESSION_NOT_FOUND'
>;

/**
 * A server error code, spelled as the client compares it: the argument must
 * be one of the server's codes, so a typo or a renamed code fails to compile.
 *
 * @example
 * if (serverErrorCode(error) === code('SESSION_NOT_FOUND')) replace();
 */
export function code<const C extends Protocol.ErrorCode>(name: C): C {
  return name;
}
