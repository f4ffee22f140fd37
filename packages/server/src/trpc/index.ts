export { createHttpContext, resolveSessionContext, type SessionContext } from './context.js';
export { sessionEventsProcedure } from './events.js';
export {
  errorCodeOf,
  mergeRouters,
  publicProcedure,
  router,
  sessionProcedure,
  t,
  toTRPCError,
} from './init.js';
export { createSessionRouter, type SessionRouter } from './session-router.js';
