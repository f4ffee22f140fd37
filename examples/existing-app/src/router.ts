import { on } from 'node:events';
import { z } from 'zod';
import type { Todo } from './db.js';
import { sessionProcedure, sessionRouter, t, userProcedure } from './trpc.js';

export const appRouter = t.router({
  // session.create, get, heartbeat, delete, metrics, events: what the client SDK calls.
  session: sessionRouter,
  todos: t.router({
    /** The caller's todos; answers for a session without a login too. */
    list: sessionProcedure.query(({ ctx }) => ({
      user: ctx.user ?? null,
      todos: ctx.user === undefined ? [] : ctx.db.todosOf(ctx.user.id),
      session: { sessionId: ctx.session.sessionId, userId: ctx.session.userId ?? null },
      transport: ctx.transport,
    })),
    /** Adds a todo and tells this session about it on `session.events`. */
    add: userProcedure
      .input(z.object({ text: z.string().min(1).max(200) }))
      .mutation(async ({ ctx, input }) => {
        const todo = ctx.db.addTodo(ctx.user.id, input.text);
        await ctx.manager.publish(ctx.session.sessionId, 'todo.added', todo);
        return todo;
      }),
    /** The user's todos now and after each change (over the WebSocket). */
    live: userProcedure.subscription(async function* ({ ctx, signal }) {
      const userId = ctx.user.id;
      yield { user: ctx.user, todos: ctx.db.todosOf(userId), transport: ctx.transport };
      for await (const [todo] of on(ctx.db.events, 'added', { signal }) as AsyncIterable<[Todo]>) {
        if (todo.userId === userId) {
          yield { user: ctx.user, todos: ctx.db.todosOf(userId), transport: ctx.transport };
        }
      }
    }),
  }),
});
export type AppRouter = typeof appRouter;
