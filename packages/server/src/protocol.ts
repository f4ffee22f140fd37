/**
 * The wire protocol of Morgan Sessions, written once: what travels between a
 * server and its clients. The server builds its errors, close codes and
 * answers from this module; the client SDK imports its types (type-only,
 * through `@morgan/session-server/protocol`), so the two sides cannot drift
 * apart without a compile error.
 *
 * This module imports nothing and has no side effects, so it can be read by
 * any bundle. `docs/protocol.md` describes the same contract for people.
 *
 * @example
 * import type { ErrorBody, SessionEvent } from '@morgan/session-server/protocol';
 *
 * @module \@morgan/session-server/protocol
 */

/** HTTP request header that carries the session id (never the URL). */
export const SESSION_HEADER = 'X-Session-Id';

/** `SESSION_HEADER` in the lower case Node gives header names. */
export const SESSION_HEADER_LOWER = 'x-session-id';

/**
 * HTTP request header that carries a mutation's idempotency key. Over
 * WebSocket the same key travels as `params.idempotencyKey` of the tRPC
 * mutation message.
 *
 * @example
 * fetch('/trpc/order.place', { method: 'POST', headers: { [IDEMPOTENCY_HEADER]: crypto.randomUUID() }, body });
 */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** Longest idempotency key, in characters (keys are 1 to 255 visible ASCII characters). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * Query parameter that asks for a shared socket, `/trpc?mux=1`: one real
 * WebSocket carrying the sockets of many tabs of a browser as channels, each
 * with its own session (the SDK's `connection: 'shared'`; envelopes in
 * docs/protocol.md).
 */
export const MUX_QUERY_PARAM = 'mux';

/**
 * What a client sends on a shared socket: open channel `c`, one of its
 * messages (`d`, exactly what a socket of its own would carry), or its close.
 *
 * @example
 * socket.send(JSON.stringify({ c: 1, t: 'o' } satisfies MuxClientEnvelope));
 */
export type MuxClientEnvelope =
  | { c: number; t: 'o' }
  | { c: number; t: 'm'; d: string }
  | { c: number; t: 'x' };

/** What the server sends on a shared socket: a message of channel `c`, or its close with code and reason. */
export type MuxServerEnvelope =
  | { c: number; t: 'm'; d: string }
  | { c: number; t: 'x'; code: number; reason: string };

/** Close reason of a channel past `maxChannelsPerSocket` (code 4429). */
export const TOO_MANY_CHANNELS = 'TOO_MANY_CHANNELS';

/** What a client sends as tRPC `connectionParams` when it opens a WebSocket. */
export interface ConnectionParams {
  /** The session the socket belongs to. */
  sessionId: string;
}

/** Stable error codes: every error body, `data.errorCode` and close reason uses one. */
export const ErrorCode = {
  INVALID_SESSION_ID: 'INVALID_SESSION_ID',
  SESSION_REQUIRED: 'SESSION_REQUIRED',
  SESSION_NOT_FOUND: 'SESSION_NOT_FOUND',
  INVALID_METADATA: 'INVALID_METADATA',
  METADATA_TOO_LARGE: 'METADATA_TOO_LARGE',
  INVALID_REQUEST: 'INVALID_REQUEST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  ROUTE_NOT_FOUND: 'ROUTE_NOT_FOUND',
  FORBIDDEN_ORIGIN: 'FORBIDDEN_ORIGIN',
  CROSS_SITE_REQUEST: 'CROSS_SITE_REQUEST',
  RATE_LIMITED: 'RATE_LIMITED',
  SERVER_AT_CAPACITY: 'SERVER_AT_CAPACITY',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  INVALID_CONFIG: 'INVALID_CONFIG',
  MANAGER_NOT_INITIALIZED: 'MANAGER_NOT_INITIALIZED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  CONFLICT: 'CONFLICT',
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  INVALID_IDEMPOTENCY_KEY: 'INVALID_IDEMPOTENCY_KEY',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  REQUEST_IN_PROGRESS: 'REQUEST_IN_PROGRESS',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

/** One of the stable error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes a Morgan server sends, and what a client does on each. */
export const CloseCode = {
  /** Server shutting down: reconnect (elsewhere). */
  GOING_AWAY: 1001,
  /** A frame ws could not parse (the `ws` library closes with it). */
  PROTOCOL_ERROR: 1002,
  /** A message that is not valid JSON or not a tRPC message. */
  INVALID_PAYLOAD: 1007,
  /** Too many messages before authentication. */
  POLICY_VIOLATION: 1008,
  /** A message larger than `maxPayload`. */
  MESSAGE_TOO_BIG: 1009,
  /** The server failed (the store is unreachable, for example): reconnect later. */
  INTERNAL_ERROR: 1011,
  /** The node is at capacity: reconnect later. */
  TRY_AGAIN_LATER: 1013,
  /** Missing or malformed `connectionParams`: an error, never retried. */
  BAD_SESSION: 4400,
  /** Origin not allowed: an error, never retried. */
  FORBIDDEN: 4403,
  /** Unknown, expired or deleted session: get a new one, then reconnect. */
  SESSION_NOT_FOUND: 4404,
  /** Too many sockets or calls: reconnect after a backoff. */
  RATE_LIMITED: 4429,
} as const;

/** One of the close codes in {@link CloseCode}. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** How one error code travels over each transport. */
export interface ErrorCodeInfo {
  /** HTTP status sent for this code. */
  readonly httpStatus: number;
  /** WebSocket close code used when the error ends a connection. */
  readonly wsCloseCode: CloseCode;
  /** The message sent when nothing more specific is known. */
  readonly message: string;
}

/** The one map from code to HTTP status, WebSocket close code and default message. */
export const errorCodeInfo = {
  INVALID_SESSION_ID: {
    httpStatus: 400,
    wsCloseCode: CloseCode.BAD_SESSION,
    message: 'Session id must be a UUID',
  },
  SESSION_REQUIRED: {
    httpStatus: 401,
    wsCloseCode: CloseCode.BAD_SESSION,
    message: 'This call requires a session (the X-Session-Id header)',
  },
  SESSION_NOT_FOUND: {
    httpStatus: 404,
    wsCloseCode: CloseCode.SESSION_NOT_FOUND,
    message: 'Session was not found or has expired',
  },
  INVALID_METADATA: {
    httpStatus: 400,
    wsCloseCode: CloseCode.BAD_SESSION,
    message: 'Metadata must be a JSON object',
  },
  METADATA_TOO_LARGE: {
    httpStatus: 413,
    wsCloseCode: CloseCode.MESSAGE_TOO_BIG,
    message: 'Metadata is too large',
  },
  INVALID_REQUEST: {
    httpStatus: 400,
    wsCloseCode: CloseCode.INVALID_PAYLOAD,
    message: 'Invalid request',
  },
  PAYLOAD_TOO_LARGE: {
    httpStatus: 413,
    wsCloseCode: CloseCode.MESSAGE_TOO_BIG,
    message: 'Request body is too large',
  },
  ROUTE_NOT_FOUND: {
    httpStatus: 404,
    wsCloseCode: CloseCode.SESSION_NOT_FOUND,
    message: 'No such route',
  },
  FORBIDDEN_ORIGIN: {
    httpStatus: 403,
    wsCloseCode: CloseCode.FORBIDDEN,
    message: 'Origin is not allowed',
  },
  CROSS_SITE_REQUEST: {
    httpStatus: 403,
    wsCloseCode: CloseCode.FORBIDDEN,
    message: 'Cross-site request refused: list the calling origin in allowedOrigins to allow it',
  },
  RATE_LIMITED: {
    httpStatus: 429,
    wsCloseCode: CloseCode.RATE_LIMITED,
    message: 'Too many requests, retry later',
  },
  SERVER_AT_CAPACITY: {
    httpStatus: 503,
    wsCloseCode: CloseCode.TRY_AGAIN_LATER,
    message: 'Server is at capacity, retry later',
  },
  SHUTTING_DOWN: {
    httpStatus: 503,
    wsCloseCode: CloseCode.GOING_AWAY,
    message: 'Server is shutting down',
  },
  STORE_UNAVAILABLE: {
    httpStatus: 503,
    wsCloseCode: CloseCode.INTERNAL_ERROR,
    message: 'Session store is unavailable',
  },
  INVALID_CONFIG: {
    httpStatus: 500,
    wsCloseCode: CloseCode.INTERNAL_ERROR,
    message: 'Invalid configuration',
  },
  MANAGER_NOT_INITIALIZED: {
    httpStatus: 500,
    wsCloseCode: CloseCode.INTERNAL_ERROR,
    message: 'The session manager is not initialized',
  },
  UNAUTHORIZED: {
    httpStatus: 401,
    wsCloseCode: CloseCode.FORBIDDEN,
    message: 'Authentication required',
  },
  FORBIDDEN: {
    httpStatus: 403,
    wsCloseCode: CloseCode.FORBIDDEN,
    message: 'Not allowed',
  },
  CONFLICT: {
    httpStatus: 409,
    wsCloseCode: CloseCode.POLICY_VIOLATION,
    message: 'The request conflicts with the current state',
  },
  VERSION_CONFLICT: {
    httpStatus: 409,
    wsCloseCode: CloseCode.POLICY_VIOLATION,
    message: 'The session metadata changed since that version; read it again and retry',
  },
  INVALID_IDEMPOTENCY_KEY: {
    httpStatus: 400,
    wsCloseCode: CloseCode.INVALID_PAYLOAD,
    message: 'Idempotency-Key must be 1 to 255 visible ASCII characters, on one call',
  },
  IDEMPOTENCY_KEY_REUSED: {
    httpStatus: 422,
    wsCloseCode: CloseCode.POLICY_VIOLATION,
    message: 'This idempotency key was used for another call (another path or input)',
  },
  REQUEST_IN_PROGRESS: {
    httpStatus: 409,
    wsCloseCode: CloseCode.TRY_AGAIN_LATER,
    message: 'A call with this idempotency key is still running; retry after Retry-After',
  },
  INTERNAL_ERROR: {
    httpStatus: 500,
    wsCloseCode: CloseCode.INTERNAL_ERROR,
    message: 'Internal server error',
  },
} as const satisfies Readonly<Record<ErrorCode, ErrorCodeInfo>>;

/** The default message of `code`. */
export function errorMessage(code: ErrorCode): string {
  return errorCodeInfo[code].message;
}

/** Every HTTP error answer: `{"error":{"code":"…","message":"…"}}`. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
  };
}

/** What tRPC error answers carry as `data` besides tRPC's own fields. */
export interface MorganErrorData {
  /** The stable code, also for errors tRPC itself raised (bad input, unknown path). */
  errorCode: ErrorCode;
  /**
   * `true` when the call was turned away before its procedure ran (its
   * session was unknown when the call arrived), so sending it again under a
   * new session cannot run it twice. Absent otherwise.
   */
  notStarted?: true;
}

/** Statuses a client may retry after `Retry-After`: the node is busy, not the request wrong. */
export const RETRYABLE_STATUSES = [503, 429] as const;

/** A JSON primitive. */
export type JsonPrimitive = string | number | boolean | null;
/** A JSON value, as session metadata and event data hold. */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object, the shape of session metadata. */
export type JsonObject = { [key: string]: JsonValue };

/**
 * A session as the server reports it (`session.create`, `session.get`; Dates
 * travel as Dates through superjson). Always a snapshot, never live state.
 */
export interface Session {
  /** UUID v4 from `crypto.randomUUID()`. */
  readonly sessionId: string;
  readonly userId?: string;
  readonly conversationId?: string;
  readonly createdAt: Date;
  /** Last request, heartbeat, pong or message. */
  readonly lastActivity: Date;
  /** Caller-owned JSON object; a deep copy of what is stored. */
  readonly metadata: JsonObject;
  /**
   * Version of `metadata`: 1 at creation, one more at each `updateMetadata`;
   * pass it as `ifVersion` to update only what you read.
   */
  readonly metadataVersion: number;
  /** Open WebSocket connections (across nodes with a shared store). */
  readonly connectionCount: number;
  /** Ids of requests in flight for this session. */
  readonly activeRequests: readonly string[];
}

/** What `session.create` takes. */
export interface CreateSessionInput {
  userId?: string | undefined;
  conversationId?: string | undefined;
  metadata?: JsonObject | undefined;
}

/** What `session.heartbeat` answers. */
export interface HeartbeatResult {
  /** When the server last saw this session (this heartbeat). */
  lastActivity: Date;
  /** When the session expires unless something touches it again. */
  expiresAt: Date;
  /** The server's idle timeout, which sets the client's heartbeat interval. */
  sessionTimeoutMs: number;
}

/**
 * One server event of a session, as `session.events` delivers it.
 *
 * Ids look like Redis stream ids, `<epochMs>-<seq>`: they increase within a
 * session, and stay increasing across a restart of the node because the time
 * part moves on. A client resumes by sending the last id it saw.
 */
export interface SessionEvent<TData = JsonValue> {
  /** Increasing per session, `<epochMs>-<seq>`: the resume point. */
  readonly id: string;
  /** What happened, for example `chat.reply`. `gap` is reserved. */
  readonly type: string;
  /** JSON payload; every reader gets its own copy. */
  readonly data: TData;
  /** When it was appended, epoch milliseconds. */
  readonly at: number;
}

/** The type of the event announcing that missed events are no longer buffered. */
export const GAP_EVENT_TYPE = 'gap';

/** Payload of a `gap` event. */
export type GapEventData = {
  /** The id the reader resumed from. */
  lastEventId: string;
  /** The newest id known to be lost, when the log knows it. */
  lostThroughId?: string;
};

/**
 * Events were missed and are no longer buffered on the server (the client was
 * away longer than the replay buffer, or its session was replaced): reload
 * whatever state the events feed.
 */
export interface GapEvent extends SessionEvent<GapEventData> {
  readonly type: typeof GAP_EVENT_TYPE;
}

/**
 * The type of the last event of a `session.events` stream whose session was
 * rotated (`rotateSession`): the stream ends after it, and the client carries
 * on with the new id, subscribing afresh (the new session's events so far are
 * replayed from its buffer).
 */
export const ROTATED_EVENT_TYPE = 'session.rotated';

/** Payload of a `session.rotated` event. */
export type RotatedEventData = {
  /** The id that replaced the stream's session. */
  sessionId: string;
};

/** The last event of a stream whose session was rotated. */
export interface RotatedEvent extends SessionEvent<RotatedEventData> {
  readonly type: typeof ROTATED_EVENT_TYPE;
}

/** Event types the server uses itself; `publish` refuses them. */
export const RESERVED_EVENT_TYPES: readonly string[] = [GAP_EVENT_TYPE, ROTATED_EVENT_TYPE];

/** What `session.events` takes: the id to resume after. */
export interface SessionEventsInput {
  lastEventId?: string | undefined;
}
