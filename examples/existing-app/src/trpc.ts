// The app's own tRPC instance, with Morgan's context added to the app's and
// Morgan's procedures built on it.
import {
  createMorganProcedures,
  type MorganContext,
  morganErrorData,
} from '@morgan/session-server/trpc';
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import type { AppContext } from './context.js';

export const t = initTRPC.context<AppContext & MorganContext>().create({
  // The client SDK speaks superjson.
  transformer: superjson,
  // The stable Morgan code (SESSION_NOT_FOUND, SERVER_AT_CAPACITY, …) in data.errorCode.
  errorFormatter: ({ shape, error }) => ({
    ...shape,
    data: { ...shape.data, ...morganErrorData(error) },
  }),
});

export const { publicProcedure, sessionProcedure, sessionRouter } = createMorganProcedures(t, {
  // The session's userId is the logged-in user's, decided here on the server.
  identify: (ctx) => ctx.user?.id,
});

/** A session and a logged-in user: `ctx.session` and `ctx.user` are both set. */
export const userProcedure = sessionProcedure.use(({ ctx, next }) => {
  if (ctx.user === undefined)
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'log in first' });
  return next({ ctx: { user: ctx.user } });
});
