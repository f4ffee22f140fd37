/**
 * Every error Morgan Sessions raises carries a stable `code` from this table.
 * The code decides the HTTP status and the WebSocket close code, so adapters
 * never invent their own mapping.
 */
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
  RATE_LIMITED: 'RATE_LIMITED',
  SERVER_AT_CAPACITY: 'SERVER_AT_CAPACITY',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  INVALID_CONFIG: 'INVALID_CONFIG',
  MANAGER_NOT_INITIALIZED: 'MANAGER_NOT_INITIALIZED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

interface CodeInfo {
  /** HTTP status sent for this code. */
  readonly httpStatus: number;
  /** WebSocket close code used when the error ends a connection. */
  readonly wsCloseCode: number;
}

/** One map from code to HTTP status and WebSocket close code. */
export const errorCodeInfo: Readonly<Record<ErrorCode, CodeInfo>> = {
  INVALID_SESSION_ID: { httpStatus: 400, wsCloseCode: 4400 },
  SESSION_REQUIRED: { httpStatus: 401, wsCloseCode: 4400 },
  SESSION_NOT_FOUND: { httpStatus: 404, wsCloseCode: 4404 },
  INVALID_METADATA: { httpStatus: 400, wsCloseCode: 4400 },
  METADATA_TOO_LARGE: { httpStatus: 413, wsCloseCode: 1009 },
  INVALID_REQUEST: { httpStatus: 400, wsCloseCode: 1007 },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, wsCloseCode: 1009 },
  ROUTE_NOT_FOUND: { httpStatus: 404, wsCloseCode: 4404 },
  FORBIDDEN_ORIGIN: { httpStatus: 403, wsCloseCode: 4403 },
  RATE_LIMITED: { httpStatus: 429, wsCloseCode: 4429 },
  SERVER_AT_CAPACITY: { httpStatus: 503, wsCloseCode: 1013 },
  SHUTTING_DOWN: { httpStatus: 503, wsCloseCode: 1001 },
  STORE_UNAVAILABLE: { httpStatus: 503, wsCloseCode: 1011 },
  INVALID_CONFIG: { httpStatus: 500, wsCloseCode: 1011 },
  MANAGER_NOT_INITIALIZED: { httpStatus: 500, wsCloseCode: 1011 },
  INTERNAL_ERROR: { httpStatus: 500, wsCloseCode: 1011 },
};

/** Base class of every error raised by Morgan Sessions. */
export class MorganError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** HTTP status for this error. */
  get httpStatus(): number {
    return errorCodeInfo[this.code].httpStatus;
  }

  /** The JSON body sent to HTTP clients: `{"error":{"code","message"}}`. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The session id is absent, expired or was deleted. */
export class SessionNotFoundError extends MorganError {
  readonly sessionId: string;
  constructor(sessionId: string) {
    super(ErrorCode.SESSION_NOT_FOUND, `Session ${sessionId} was not found or has expired`);
    this.sessionId = sessionId;
  }
}

/** The session id is not a UUID. */
export class InvalidSessionIdError extends MorganError {
  constructor(message = 'Session id must be a UUID') {
    super(ErrorCode.INVALID_SESSION_ID, message);
  }
}

/** Session metadata is not a JSON object or is larger than allowed. */
export class InvalidMetadataError extends MorganError {}

/** A `MORGAN_*` environment variable or an option has an invalid value. */
export class ConfigError extends MorganError {
  readonly variable: string;
  readonly value: unknown;
  constructor(variable: string, value: unknown, expected: string) {
    super(
      ErrorCode.INVALID_CONFIG,
      `Invalid value for ${variable}: ${JSON.stringify(value)} (expected ${expected})`,
    );
    this.variable = variable;
    this.value = value;
  }
}

/** The node has `maxConcurrentRequests` requests in flight. */
export class CapacityError extends MorganError {
  /** Seconds after which a retry is worth trying. */
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super(ErrorCode.SERVER_AT_CAPACITY, 'Server is at capacity, retry later');
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The session store could not be reached. */
export class StoreUnavailableError extends MorganError {
  constructor(message = 'Session store is unavailable', options?: { cause?: unknown }) {
    super(ErrorCode.STORE_UNAVAILABLE, message, options);
  }
}

/** Turns anything thrown into a `MorganError`, keeping the original as `cause`. */
export function toMorganError(thrown: unknown): MorganError {
  if (thrown instanceof MorganError) return thrown;
  return new MorganError(ErrorCode.INTERNAL_ERROR, 'Internal server error', { cause: thrown });
}

/** True when `value` is a code from the table. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCode, value);
}
