import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ErrorCode, errorCodeInfo, isErrorCode, MorganError } from '../errors.js';
import { errorMessage } from '../protocol.js';
import type { SessionContext } from './context.js';

type TRPCCode = TRPCError['code'];

const trpcCodeByStatus: Readonly<Record<number, TRPCCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

const morganCodeByTrpcCode: Partial<Record<TRPCCode, ErrorCode>> = {
  PARSE_ERROR: ErrorCode.INVALID_REQUEST,
  BAD_REQUEST: ErrorCode.INVALID_REQUEST,
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

/** The stable Morgan code for any error tRPC reports. */
export function errorCodeOf(error: TRPCError): ErrorCode {
  const cause = error.cause;
  if (cause instanceof MorganError) return cause.code;
  const coded = (cause as { code?: unknown } | undefined)?.code;
  if (isErrorCode(coded)) return coded;
  return morganCodeByTrpcCode[error.code] ?? ErrorCode.INTERNAL_ERROR;
}

/** The one tRPC instance every Morgan router and app router builds on. */
export const t = initTRPC.context<SessionContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const errorCode = errorCodeOf(error);
    const internal = errorCode === ErrorCode.INTERNAL_ERROR;
    return {
      ...shape,
      message: internal ? errorMessage(ErrorCode.INTERNAL_ERROR) : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        errorCode,
      },
    };
  },
});

/** Turns MorganErrors thrown by procedures into mapped TRPCErrors. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof MorganError) {
    throw toTRPCError(result.error.cause);
  }
  return result;
});

/** Runs each call through the transport's `ctx.runCall`, when it set one. */
const transportCall = t.middleware(({ ctx, next }) =>
  ctx.runCall === undefined ? next() : ctx.runCall(() => next()),
);

/** Builds routers on Morgan's tRPC instance. */
export const router = t.router;
/** Merges routers built on Morgan's tRPC instance. */
export const mergeRouters = t.mergeRouters;
/** A procedure anyone may call. */
export const publicProcedure = t.procedure.use(mapErrors).use(transportCall);

/**
 * A procedure that requires a session: `ctx.session` is typed and present.
 * Without one the call fails with `UNAUTHORIZED` / `SESSION_REQUIRED`; an
 * unknown session id fails with `NOT_FOUND` / `SESSION_NOT_FOUND`.
 *
 * @example
 * const appRouter = router({
 *   whoami: sessionProcedure.query(({ ctx }) => ctx.session.sessionId),
 * });
 */
export const sessionProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.session === undefined) {
    throw toTRPCError(new MorganError(ctx.sessionError ?? ErrorCode.SESSION_REQUIRED));
  }
  return next({ ctx: { ...ctx, session: ctx.session } });
});
