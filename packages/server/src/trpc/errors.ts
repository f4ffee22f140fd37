import { TRPCError } from '@trpc/server';
import { ErrorCode, errorCodeInfo, isErrorCode, MorganError } from '../errors.js';
import type { MorganErrorData } from '../protocol.js';

type TRPCCode = TRPCError['code'];

const trpcCodeByStatus: Readonly<Record<number, TRPCCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * The stable code of an error tRPC or the app raised as a `TRPCError` (an
 * app's own `UNAUTHORIZED` is the app's, not an internal error).
 */
const morganCodeByTrpcCode: Partial<Record<TRPCCode, ErrorCode>> = {
  PARSE_ERROR: ErrorCode.INVALID_REQUEST,
  BAD_REQUEST: ErrorCode.INVALID_REQUEST,
  UNAUTHORIZED: ErrorCode.UNAUTHORIZED,
  FORBIDDEN: ErrorCode.FORBIDDEN,
  CONFLICT: ErrorCode.CONFLICT,
  PRECONDITION_FAILED: ErrorCode.CONFLICT,
  UNPROCESSABLE_CONTENT: ErrorCode.INVALID_REQUEST,
  TIMEOUT: ErrorCode.INVALID_REQUEST,
  CLIENT_CLOSED_REQUEST: ErrorCode.INVALID_REQUEST,
  NOT_FOUND: ErrorCode.ROUTE_NOT_FOUND,
  PAYLOAD_TOO_LARGE: ErrorCode.PAYLOAD_TOO_LARGE,
  TOO_MANY_REQUESTS: ErrorCode.RATE_LIMITED,
  SERVICE_UNAVAILABLE: ErrorCode.SERVER_AT_CAPACITY,
  METHOD_NOT_SUPPORTED: ErrorCode.INVALID_REQUEST,
  UNSUPPORTED_MEDIA_TYPE: ErrorCode.INVALID_REQUEST,
};

/**
 * Turns a `MorganError` into a `TRPCError` whose status follows the shared
 * code table; the stable code reaches the client as `data.errorCode`.
 */
export function toTRPCError(error: MorganError): TRPCError {
  const status = errorCodeInfo[error.code].httpStatus;
  return new TRPCError({
    code: trpcCodeByStatus[status] ?? 'INTERNAL_SERVER_ERROR',
    message: error.message,
    cause: error,
  });
}

/** Errors raised before a call's procedure ran, and their causes. */
const notStartedErrors = new WeakSet<object>();

/**
 * Marks `error` as raised before the call's procedure ran (its session was
 * unknown, or the request was turned away): its `data` says
 * `notStarted: true`, so a client may send the call again under a new
 * session without running it twice.
 */
export function notStarted<T extends TRPCError>(error: T): T {
  notStartedErrors.add(error);
  if (typeof error.cause === 'object' && error.cause !== null) notStartedErrors.add(error.cause);
  return error;
}

/** The stable Morgan code for any error tRPC reports. */
export function errorCodeOf(error: TRPCError): ErrorCode {
  const cause = error.cause;
  if (cause instanceof MorganError) return cause.code;
  const coded = (cause as { code?: unknown } | undefined)?.code;
  if (isErrorCode(coded)) return coded;
  return morganCodeByTrpcCode[error.code] ?? ErrorCode.INTERNAL_ERROR;
}

/**
 * What Morgan adds to a tRPC error's `data`: the stable code. Call it from
 * your tRPC instance's `errorFormatter`, so Morgan's procedures on your
 * instance answer with `data.errorCode` as on Morgan's own.
 *
 * @example
 * const t = initTRPC.context<AppContext & MorganContext>().create({
 *   transformer: superjson,
 *   errorFormatter: ({ shape, error }) => ({
 *     ...shape,
 *     data: { ...shape.data, ...morganErrorData(error) },
 *   }),
 * });
 */
export function morganErrorData(error: TRPCError): MorganErrorData {
  const errorCode = errorCodeOf(error);
  const cause = error.cause;
  if (notStartedErrors.has(error) || (cause !== undefined && notStartedErrors.has(cause))) {
    return { errorCode, notStarted: true };
  }
  return { errorCode };
}
