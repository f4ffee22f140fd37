import {
  createSessionRouter,
  mergeRouters,
  router,
  sessionProcedure,
} from '@morgan/session-server/trpc';
import { z } from 'zod';
import type { ChatService } from './chat.js';

/**
 * The demo's tRPC router: Morgan's `session.*` procedures plus `chat.send`,
 * which does what `POST /api/chat` does.
 *
 * @example
 * app.use('/trpc', trpcHandler(manager, createAppRouter(chat)));
 */
export function createAppRouter(chat: ChatService) {
  return mergeRouters(
    // The demo has no login: each tab names its user (?user=…), so it accepts a
    // client-sent userId. An app with a login decides it with `identify` instead.
    createSessionRouter({ allowClientUserId: true }),
    router({
      chat: router({
        /** Sends a message; answers `{reply, sessionId, messageCount}`. */
        send: sessionProcedure
          .input(z.object({ message: z.string() }))
          .mutation(({ ctx, input }) => chat.send(ctx.session.sessionId, input.message)),
      }),
    }),
  );
}

/** The demo's router type, for `createSessionClient<AppRouter>()`. */
export type AppRouter = ReturnType<typeof createAppRouter>;
