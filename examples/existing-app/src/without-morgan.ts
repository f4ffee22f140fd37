// The app as it was before Morgan: Express, express-session + Passport, and
// its own tRPC instance with its own context. app.ts is the same app with
// Morgan added; docs/existing-app.md walks through the difference.
import { createServer, type Server } from 'node:http';
import { initTRPC, TRPCError } from '@trpc/server';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express from 'express';
import superjson from 'superjson';
import { z } from 'zod';
import { createAuth } from './auth.js';
import type { AppContext } from './context.js';
import type { Db } from './db.js';

const t = initTRPC.context<AppContext>().create({ transformer: superjson });

const userProcedure = t.procedure.use(({ ctx, next }) => {
  if (ctx.user === undefined)
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'log in first' });
  return next({ ctx: { user: ctx.user } });
});

export const routerWithoutMorgan = t.router({
  todos: t.router({
    list: userProcedure.query(({ ctx }) => ({
      user: ctx.user,
      todos: ctx.db.todosOf(ctx.user.id),
    })),
    add: userProcedure
      .input(z.object({ text: z.string().min(1).max(200) }))
      .mutation(({ ctx, input }) => ctx.db.addTodo(ctx.user.id, input.text)),
  }),
});
export type RouterWithoutMorgan = typeof routerWithoutMorgan;

/** The app without Morgan: its login, and its tRPC router at /trpc. */
export function createAppWithoutMorgan(db: Db, options: { secret: string }): Server {
  const auth = createAuth(db, options);
  const app = express();
  app.use(auth.middleware);
  app.use(auth.routes);
  app.use(
    '/trpc',
    createExpressMiddleware({
      router: routerWithoutMorgan,
      createContext: ({ req }): AppContext => ({ db, user: req.user }),
    }),
  );
  return createServer(app);
}
