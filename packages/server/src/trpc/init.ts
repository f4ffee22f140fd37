import {
  initTRPC,
  type TRPC_ERROR_CODE_KEY,
  type TRPC_ERROR_CODE_NUMBER,
  type TRPCErrorFormatter,
} from '@trpc/server';
import superjson from 'superjson';
import { ErrorCode } from '../errors.js';
import { errorMessage, type MorganErrorData } from '../protocol.js';
import type { MorganContext } from './context.js';
import { morganErrorData } from './errors.js';
import { createMorganProcedures } from './procedures.js';

/**
 * How Morgan's instance serves subscriptions over SSE: a ping every 25 s
 * keeps proxies (nginx's `proxy_read_timeout`, 60 s) from cutting an idle
 * stream, and a stream ends after 10 minutes, after which the client
 * resubscribes with its last event id and misses nothing. Pass the same to
 * your own instance's `create({ sse })`.
 */
export const morganSseOptions = {
  ping: { enabled: true, intervalMs: 25_000 },
  maxDurationMs: 10 * 60_000,
  client: { reconnectAfterInactivityMs: 60_000 },
} as const;

/** The error shape of Morgan's instance: tRPC's, with the stable code in `data.errorCode`. */
export interface MorganErrorShape {
  message: string;
  code: TRPC_ERROR_CODE_NUMBER;
  data: {
    code: TRPC_ERROR_CODE_KEY;
    httpStatus: number;
    path: string | undefined;
  } & MorganErrorData;
}

/** Morgan's instance's error formatter: no stack, no internal message, `data.errorCode`. */
const errorFormatter: TRPCErrorFormatter<MorganContext | undefined, MorganErrorShape> = ({
  shape,
  error,
}) => {
  const data = morganErrorData(error);
  const internal = data.errorCode === ErrorCode.INTERNAL_ERROR;
  return {
    ...shape,
    message: internal ? errorMessage(ErrorCode.INTERNAL_ERROR) : shape.message,
    data: {
      code: shape.data.code,
      httpStatus: shape.data.httpStatus,
      path: shape.data.path,
      ...data,
    },
  };
};

/**
 * Morgan's default tRPC instance, for apps without one of their own (the
 * quick start). Apps with their own instance use `createMorganProcedures(t)`.
 */
export const t = initTRPC.context<MorganContext>().create({
  transformer: superjson,
  // No stack traces in error shapes (the formatter drops them anyway), so an
  // error costs no stack formatting, whatever NODE_ENV says.
  isDev: false,
  sse: morganSseOptions,
  errorFormatter,
});

const defaults = createMorganProcedures(t);

/** Builds routers on Morgan's tRPC instance. */
export const router = t.router;
/** Merges routers built on Morgan's tRPC instance. */
export const mergeRouters = t.mergeRouters;
/** A procedure anyone may call, on Morgan's instance. */
export const publicProcedure = defaults.publicProcedure;

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
export const sessionProcedure = defaults.sessionProcedure;

/**
 * `session.events` on Morgan's instance, for apps that compose their own
 * session router: the caller's session events, resumable by last event id.
 *
 * @example
 * trpc.session.events.subscribe(undefined, {
 *   onData: ({ data: event }) => (event.type === 'gap' ? reload() : show(event)),
 * });
 */
export const sessionEventsProcedure = defaults.sessionEventsProcedure;
