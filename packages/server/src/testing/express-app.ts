import express, { type Express } from 'express';
import {
  errorHandler,
  healthRoutes,
  notFoundHandler,
  requireSession,
  type SessionMiddlewareOptions,
  sessionMiddleware,
} from '../express/index.js';
import type { SessionManager } from '../manager.js';
import { createHold, type Hold } from './hold.js';

/** An Express app with Morgan's middleware and routes tests can drive. */
export interface TestApp {
  app: Express;
  /** Holds `GET /hold` and `POST /hold` until released. */
  hold: Hold;
  /** Times a handler after the middleware ran (any route). */
  readonly handled: number;
}

/**
 * `sessionMiddleware` + health routes + test routes:
 * `GET /hello` (echoes the session), `GET|POST /hold` (waits on `hold`),
 * `POST /echo` (JSON body, 1 KiB limit), `GET /private` (requireSession),
 * `GET /boom` (throws), JSON 404 and the JSON error handler.
 */
export function createTestApp(
  manager: SessionManager,
  options: SessionMiddlewareOptions = {},
): TestApp {
  const app = express();
  const hold = createHold();
  let handled = 0;
  app.use(sessionMiddleware(manager, options));
  app.use(healthRoutes(manager));
  app.use((_req, _res, next) => {
    handled += 1;
    next();
  });
  const describe = (req: express.Request) => ({
    sessionId: req.morgan.session?.sessionId ?? null,
    activeRequests: req.morgan.session?.activeRequests.length ?? null,
    error: req.morgan?.error ?? null,
  });
  app.get('/hello', (req, res) => {
    res.json(describe(req));
  });
  const held: express.RequestHandler = async (req, res) => {
    await hold.enter();
    res.json(describe(req));
  };
  app.get('/hold', held);
  app.post('/hold', held);
  app.post('/echo', express.json({ limit: '1kb' }), (req, res) => {
    res.json({ body: req.body as unknown });
  });
  app.get('/private', requireSession(), (req, res) => {
    res.json(describe(req));
  });
  app.get('/trpc/probe', (req, res) => {
    res.json(describe(req));
  });
  app.get('/boom', () => {
    throw new Error('secret internals');
  });
  app.get('/boom-async', async () => {
    throw new Error('secret async internals');
  });
  app.use(notFoundHandler());
  app.use(errorHandler({ onInternalError: () => {} }));
  return {
    app,
    hold,
    get handled() {
      return handled;
    },
  };
}
