// The app with Morgan added (docs/existing-app.md): the same login and the
// same tRPC instance, now with Morgan's session middleware, its procedures
// on the app's `t`, and the app's context over HTTP and WebSocket.
import { createServer, type Server } from 'node:http';
import { SessionManager } from '@morgan/session-server';
import {
  errorHandler,
  healthRoutes,
  notFoundHandler,
  sessionMiddleware,
  trpcHandler,
} from '@morgan/session-server/express';
import { attachWebSocket, type WebSocketAttachment } from '@morgan/session-server/ws';
import express from 'express';
import { createAuth } from './auth.js';
import type { Db } from './db.js';
import { appRouter } from './router.js';

export interface AppOptions {
  db: Db;
  /** express-session's cookie secret. */
  secret: string;
  /** @default new SessionManager() (in-memory store) */
  manager?: SessionManager;
  /**
   * Where Morgan's middleware goes. `'before-login'` (the default) sheds an
   * overload before express-session reads its store; `'after-login'` works
   * the same otherwise.
   * @default 'before-login'
   */
  morgan?: 'before-login' | 'after-login';
}

export interface App {
  server: Server;
  manager: SessionManager;
  ws: WebSocketAttachment;
}

export function createApp(options: AppOptions): App {
  const { db, morgan = 'before-login' } = options;
  const manager = options.manager ?? new SessionManager();
  const auth = createAuth(db, { secret: options.secret });
  const app = express();

  app.use(healthRoutes(manager)); // /health, /ready, /metrics
  if (morgan === 'before-login') app.use(sessionMiddleware(manager));
  app.use(auth.middleware); // express-session + Passport, as before
  if (morgan === 'after-login') app.use(sessionMiddleware(manager));
  app.use(auth.routes); // /login, /logout, /me, as before
  // Log out everywhere: end all of the user's Morgan sessions (their sockets
  // close with 4404, on every node), then end the login itself.
  app.post('/logout-everywhere', async (req, res, next) => {
    const user = req.user;
    if (user === undefined) return res.status(401).json({ error: { code: 'LOGIN_REQUIRED' } });
    try {
      const ended = await manager.deleteSessionsByUser(user.id);
      req.logout((error) => (error ? next(error) : res.json({ ended })));
    } catch (error) {
      next(error);
    }
  });
  app.use(
    '/trpc',
    trpcHandler(manager, appRouter, {
      createContext: ({ req }) => ({ db, user: req.user }),
    }),
  );
  app.use(notFoundHandler());
  app.use(errorHandler());

  const server = createServer(app);
  const ws = attachWebSocket(server, {
    manager,
    router: appRouter,
    // The upgrade request carries the login cookie; connectionParams carry Morgan's sessionId.
    createContext: async ({ req }) => ({ db, user: await auth.userOfUpgrade(req) }),
  });
  return { server, manager, ws };
}
