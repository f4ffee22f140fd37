/**
 * The tRPC layer: Morgan's own instance (`router`, `mergeRouters`,
 * `sessionProcedure`, `createSessionRouter`) for the quick start, and
 * `createMorganProcedures`, `morganErrorData` and `MorganContext` for an app
 * that has its own tRPC instance.
 *
 * @module \@morgan/session-server/trpc
 */
export {
  type AppContextOf,
  BATCHED_KEY,
  type HttpContextOptions,
  type MorganContext,
} from './context.js';
export { errorCodeOf, morganErrorData, toTRPCError } from './errors.js';
export { MAX_STORED_OUTCOME_CHARS } from './idempotency.js';
export {
  type MorganErrorShape,
  mergeRouters,
  morganSseOptions,
  publicProcedure,
  router,
  sessionEventsProcedure,
  sessionProcedure,
  t,
} from './init.js';
export type {
  MorganProcedureBuilder,
  MorganProcedures,
  SessionEventsProcedure,
  SessionProcedures,
  TrackedSessionEvent,
} from './procedure-types.js';
export {
  createMorganProcedures,
  type MorganProceduresOptions,
} from './procedures.js';
export { createSessionRouter, type SessionRouter } from './session-router.js';
