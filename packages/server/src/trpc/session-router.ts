import { z } from 'zod';
import type { HeartbeatResult } from '../protocol.js';
import { sessionEventsProcedure } from './events.js';
import { publicProcedure, router, sessionProcedure } from './init.js';

const jsonObject = z.record(z.string(), z.json());

const createInput = z
  .object({
    userId: z.string().min(1).max(256).optional(),
    conversationId: z.string().min(1).max(256).optional(),
    metadata: jsonObject.optional(),
  })
  .strict()
  .optional();

/** The `session.*` procedures. */
const sessionRouter = router({
  /** Creates a session; the answer carries its `sessionId`. */
  create: publicProcedure.input(createInput).mutation(({ ctx, input }) =>
    ctx.manager.createSession({
      userId: input?.userId,
      conversationId: input?.conversationId,
      metadata: input?.metadata,
    }),
  ),
  /** The caller's session as stored now. */
  get: sessionProcedure.query(async ({ ctx }) => {
    return (await ctx.manager.getSession(ctx.session.sessionId)) ?? ctx.session;
  }),
  /** Keeps the session alive; reports when it would expire and the server's timeout. */
  heartbeat: sessionProcedure.mutation(async ({ ctx }): Promise<HeartbeatResult> => {
    const session = (await ctx.manager.touch(ctx.session.sessionId)) ?? ctx.session;
    const timeoutMs = ctx.manager.sessionTimeoutMs;
    return {
      lastActivity: session.lastActivity,
      expiresAt: new Date(session.lastActivity.getTime() + timeoutMs),
      sessionTimeoutMs: timeoutMs,
    };
  }),
  /** Ends the caller's session at once. */
  delete: sessionProcedure.mutation(async ({ ctx }) => ({
    deleted: await ctx.manager.deleteSession(ctx.session.sessionId),
  })),
  /** Node and session figures (`getMetrics()`). */
  metrics: publicProcedure.query(({ ctx }) => ctx.manager.getMetrics()),
  /** Server events of the caller's session, resumable by last event id. */
  events: sessionEventsProcedure,
});

/**
 * The Morgan router, namespaced under `session`, ready to merge into an app's
 * router built with the same `router` from this module.
 *
 * @example
 * const appRouter = mergeRouters(createSessionRouter(), router({ chat: chatRouter }));
 * export type AppRouter = typeof appRouter;
 */
export function createSessionRouter() {
  return router({ session: sessionRouter });
}

/** Type of the router `createSessionRouter()` returns. */
export type SessionRouter = ReturnType<typeof createSessionRouter>;
