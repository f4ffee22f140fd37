import { type ErrorBody, ErrorCode, errorCodeInfo, errorMessage } from './protocol.js';
import { redact } from './redact.js';

// The codes and their mapping belong to the wire protocol; they are
// re-exported here, next to the error classes built on them.
export { ErrorCode, type ErrorCodeInfo, errorCodeInfo } from './protocol.js';

/** Base class of every error raised by Morgan Sessions. */
export class MorganError extends Error {
  readonly code: ErrorCode;

  constructor(
    code: ErrorCode,
    message: string = errorMessage(code),
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** HTTP status for this error. */
  get httpStatus(): number {
    return errorCodeInfo[this.code].httpStatus;
  }

  /** The JSON body sent to HTTP clients: `{"error":{"code","message"}}`. */
  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The session id is absent, expired or was deleted. */
export class SessionNotFoundError extends MorganError {
  readonly sessionId: string;
  constructor(sessionId: string) {
    super(ErrorCode.SESSION_NOT_FOUND, errorMessage(ErrorCode.SESSION_NOT_FOUND));
    this.sessionId = sessionId;
  }
}

/** The session id is not a UUID. */
export class InvalidSessionIdError extends MorganError {
  constructor(message = errorMessage(ErrorCode.INVALID_SESSION_ID)) {
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
    // A URL's password (REDIS_URL) never reaches the message, which is logged.
    const shown = typeof value === 'string' ? redact(value) : value;
    super(
      ErrorCode.INVALID_CONFIG,
      `Invalid value for ${variable}: ${JSON.stringify(shown)} (expected ${expected})`,
    );
    this.variable = variable;
    this.value = shown;
  }
}

/** The node has `maxConcurrentRequests` requests in flight. */
export class CapacityError extends MorganError {
  /** Seconds after which a retry is worth trying. */
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, message = errorMessage(ErrorCode.SERVER_AT_CAPACITY)) {
    super(ErrorCode.SERVER_AT_CAPACITY, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The window a rate limit refused in, for the IETF `RateLimit` and `RateLimit-Policy` headers. */
export interface RateLimitState {
  /** The policy's name, e.g. `create`. */
  name: string;
  limit: number;
  remaining: number;
  windowMs: number;
  resetMs: number;
}

/** A client went past a limit (rate, or its share of a budget); `Retry-After` says when to come back. */
export class RateLimitedError extends MorganError {
  /** Seconds after which a retry is worth trying. */
  readonly retryAfterSeconds: number;
  /** The rate limit that refused, when a rate limit did (not a budget). */
  readonly rateLimit: RateLimitState | undefined;
  constructor(message?: string, retryAfterSeconds = 1, rateLimit?: RateLimitState) {
    super(ErrorCode.RATE_LIMITED, message);
    this.retryAfterSeconds = retryAfterSeconds;
    this.rateLimit = rateLimit;
  }
}

/** `updateMetadata` with an `ifVersion` that is no longer the session's metadata version (409). */
export class VersionConflictError extends MorganError {
  /** The session's metadata version now. */
  readonly currentVersion: number | undefined;
  constructor(currentVersion?: number) {
    super(ErrorCode.VERSION_CONFLICT);
    this.currentVersion = currentVersion;
  }
}

/** The session store could not be reached. */
export class StoreUnavailableError extends MorganError {
  constructor(message = errorMessage(ErrorCode.STORE_UNAVAILABLE), options?: { cause?: unknown }) {
    super(ErrorCode.STORE_UNAVAILABLE, message, options);
  }
}

/** Turns anything thrown into a `MorganError`, keeping the original as `cause`. */
export function toMorganError(thrown: unknown): MorganError {
  if (thrown instanceof MorganError) return thrown;
  return new MorganError(ErrorCode.INTERNAL_ERROR, errorMessage(ErrorCode.INTERNAL_ERROR), {
    cause: thrown,
  });
}

/** True when `value` is a code from the table. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCode, value);
}

/**
 * A call with the same idempotency key is still running (on this node or
 * another): 409 `REQUEST_IN_PROGRESS` with `Retry-After`; the SDK retries.
 *
 * @example
 * if (claim.state === 'pending') throw new RequestInProgressError();
 */
export class RequestInProgressError extends MorganError {
  /** Seconds after which a retry is worth trying. */
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds = 1) {
    super(ErrorCode.REQUEST_IN_PROGRESS);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
