import { router, t } from './init.js';
import { createMorganProcedures, type MorganProceduresOptions } from './procedures.js';

/**
 * The Morgan router on Morgan's tRPC instance, namespaced under `session`,
 * ready to merge into an app's router built with the same `router`.
 *
 * @example
 * const appRouter = mergeRouters(
 *   createSessionRouter({ identify: (ctx) => ctx.user?.id }),
 *   router({ chat: chatRouter }),
 * );
 * export type AppRouter = typeof appRouter;
 */
export function createSessionRouter(options: MorganProceduresOptions = {}) {
  return router({ session: createMorganProcedures(t, options).sessionRouter });
}

/** Type of the router `createSessionRouter()` returns. */
export type SessionRouter = ReturnType<typeof createSessionRouter>;
