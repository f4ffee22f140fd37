// An app built the way docs/existing-app.md shows, for attacks from another
// site: express-session keeps the login in a cookie, the app's own tRPC
// instance reads it in `createContext` over HTTP and over the WebSocket
// upgrade, and a mutation (`bank.transfer`) acts as whoever the cookie names.
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNginx } from '@morgan/test-support';
import { initTRPC, TRPCError } from '@trpc/server';
import express, { type Request, type Response } from 'express';
import expressSession from 'express-session';
import superjson from 'superjson';
import type { AllowedOrigins } from '../cross-origin.js';
import { errorHandler, requestHostOf, sessionMiddleware, trpcHandler } from '../express/index.js';
import { SessionManager } from '../manager.js';
import type { MorganContext } from '../trpc/context.js';
import { morganErrorData } from '../trpc/errors.js';
import { createMorganProcedures } from '../trpc/procedures.js';
import { attachWebSocket, type WebSocketAttachment } from '../ws/index.js';

declare module 'express-session' {
  interface SessionData {
    user?: string;
  }
}

/** What the victim app's procedures see besides Morgan's fields. */
interface BankContext {
  /** The logged-in user, from the login cookie. */
  user: string | undefined;
}

function bankRouter(transfers: string[]) {
  const t = initTRPC.context<BankContext & MorganContext>().create({
    transformer: superjson,
    errorFormatter: ({ shape, error }) => ({
      ...shape,
      data: { ...shape.data, ...morganErrorData(error) },
    }),
  });
  const { publicProcedure, sessionProcedure, sessionRouter } = createMorganProcedures(t, {
    identify: (ctx) => ctx.user,
  });
  const loggedIn = publicProcedure.use(({ ctx, next }) => {
    if (ctx.user === undefined) throw new TRPCError({ code: 'UNAUTHORIZED' });
    return next({ ctx: { user: ctx.user } });
  });
  return t.router({
    session: sessionRouter,
    bank: t.router({
      /** Who the login cookie names, on a Morgan session. */
      whoami: sessionProcedure.query(({ ctx }) => ctx.user ?? null),
      /** Moves money as the logged-in user: what an attacker wants to make a victim do. */
      transfer: loggedIn.mutation(({ ctx }) => {
        transfers.push(ctx.user);
        return { from: ctx.user };
      }),
    }),
  });
}

export interface VictimAppOptions {
  /** The manager's `allowedOrigins`. */
  allowedOrigins?: AllowedOrigins;
  /** Mount `trpcHandler` without `sessionMiddleware` in front. @default false */
  trpcAlone?: boolean;
  /** Express's `trust proxy` (and `requestHostOf(app)` for the WebSocket layer). */
  trustProxy?: string;
}

export interface VictimApp extends AsyncDisposable {
  server: Server;
  manager: SessionManager;
  ws: WebSocketAttachment;
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Users in whose name `bank.transfer` or `POST /api/transfer` ran, in order. */
  transfers: string[];
  /** Logs `user` in and returns the login cookie (`name=value`). */
  logIn(user: string): Promise<string>;
}

/** Starts the victim app on a loopback port; `await using` stops it. */
export async function startVictimApp(options: VictimAppOptions = {}): Promise<VictimApp> {
  const transfers: string[] = [];
  const manager = new SessionManager(
    options.allowedOrigins === undefined ? {} : { allowedOrigins: options.allowedOrigins },
  ).start();
  const cookieSessions = expressSession({
    secret: 'victim secret',
    resave: false,
    saveUninitialized: false,
  });
  const router = bankRouter(transfers);
  const app = express();
  if (options.trustProxy !== undefined) app.set('trust proxy', options.trustProxy);
  app.use(cookieSessions);
  if (options.trpcAlone !== true) app.use(sessionMiddleware(manager));
  app.post('/login', express.json(), (req, res) => {
    req.session.user = (req.body as { user: string }).user;
    req.session.save(() => res.json({ ok: true }));
  });
  app.post('/api/transfer', (req, res) => {
    if (req.session.user === undefined) return void res.status(401).json({});
    transfers.push(req.session.user);
    res.json({ from: req.session.user });
  });
  app.use(
    '/trpc',
    trpcHandler(manager, router, { createContext: ({ req }) => ({ user: req.session.user }) }),
  );
  app.use(errorHandler({ onInternalError: () => {} }));
  const server = createServer(app);
  const ws = attachWebSocket(server, {
    manager,
    router,
    createContext: async ({ req }) => ({ user: await userOfUpgrade(req) }),
    ...(options.trustProxy === undefined ? {} : { requestHost: requestHostOf(app) }),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  /** The login cookie's user on an upgrade request (express-session only reads here). */
  function userOfUpgrade(req: IncomingMessage): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      cookieSessions(req as Request, {} as Response, (error?: unknown) =>
        error ? reject(error) : resolve((req as Request).session?.user),
      );
    });
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await ws.close({ drainTimeoutMs: 0 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await manager.stop({ drainTimeoutMs: 0 });
    })();
    return closing;
  };
  return {
    server,
    manager,
    ws,
    url,
    port,
    transfers,
    async logIn(user) {
      const response = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user }),
      });
      const cookie = response.headers.get('set-cookie');
      if (cookie === null) throw new Error('no login cookie');
      return cookie.split(';')[0] as string;
    },
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The victim app behind a real nginx that rewrites `Host` and sends the
 * page's host in `X-Forwarded-Host`, with the app trusting it (`trust proxy`
 * loopback) or not. `await using` stops both.
 */
export async function startVictimBehindNginx(trusted: boolean) {
  const app = await startVictimApp(trusted ? { trustProxy: 'loopback' } : {});
  try {
    const nginx = await startNginx({ upstreams: [`127.0.0.1:${app.port}`], forwardHost: true });
    return {
      app,
      nginx,
      async [Symbol.asyncDispose]() {
        await nginx.stop();
        await app[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await app[Symbol.asyncDispose]();
    throw error;
  }
}
