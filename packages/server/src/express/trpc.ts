import type { AnyRouter } from '@trpc/server';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import type { RequestHandler } from 'express';
import { ErrorCode, errorCodeInfo, MorganError } from '../errors.js';
import type { SessionManager } from '../manager.js';
import { createHttpContext } from '../trpc/context.js';
import { errorCodeOf } from '../trpc/init.js';
import { retryAfterHeaders } from './respond.js';

/** Options of `trpcHandler`. */
export interface TrpcHandlerOptions {
  /** Largest request body tRPC reads, in bytes. @default 1_048_576 (1 MiB) */
  maxBodyBytes?: number;
  /** Accept batched calls (`httpBatchLink`). @default true */
  allowBatching?: boolean;
  /**
   * Called with every call that failed with `INTERNAL_ERROR` (the client sees
   * only a generic message). @default logs to stderr
   */
  onInternalError?: (error: unknown, path: string | undefined) => void;
}

export const trpcHandlerDefaults = {
  maxBodyBytes: 1024 * 1024,
  allowBatching: true,
  onInternalError: (error: unknown, path: string | undefined): void => {
    console.error(`[morgan] tRPC ${path ?? '?'} failed:`, error);
  },
} as const satisfies Required<TrpcHandlerOptions>;

/**
 * Serves a router built on Morgan's tRPC instance over HTTP, with the context
 * taken from `sessionMiddleware` (no second store lookup). Mount it at
 * `/trpc`, after `sessionMiddleware`. Errors answer with the status of their
 * stable code (400/401/404/429/503) and carry it as `data.errorCode`.
 *
 * @example
 * app.use(sessionMiddleware(manager));
 * app.use('/trpc', trpcHandler(manager, appRouter));
 */
export function trpcHandler<TRouter extends AnyRouter>(
  manager: SessionManager,
  router: TRouter,
  options: TrpcHandlerOptions = {},
): RequestHandler {
  const settings = { ...trpcHandlerDefaults, ...options };
  return createExpressMiddleware({
    router,
    createContext: createHttpContext(manager),
    maxBodySize: settings.maxBodyBytes,
    allowBatching: settings.allowBatching,
    onError({ error, path }) {
      if (errorCodeOf(error) === ErrorCode.INTERNAL_ERROR) settings.onInternalError(error, path);
    },
    // A 503 (store outage, capacity, shutdown) tells clients when to retry.
    responseMeta({ errors }) {
      let seconds: number | undefined;
      for (const error of errors) {
        if (errorCodeInfo[errorCodeOf(error)].httpStatus !== 503) continue;
        const cause = error.cause instanceof MorganError ? error.cause : undefined;
        const after = Number(cause && retryAfterHeaders(cause)?.['Retry-After']) || 1;
        seconds = Math.max(seconds ?? 0, after);
      }
      return seconds === undefined ? {} : { headers: { 'Retry-After': String(seconds) } };
    },
  });
}
