import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  ErrorCode,
  MorganError,
  SessionManager,
  type SessionManagerOptions,
} from '@morgan/session-server';
import {
  errorHandler,
  healthRoutes,
  notFoundHandler,
  requireSession,
  sessionMiddleware,
  trpcHandler,
} from '@morgan/session-server/express';
import {
  createSessionRouter,
  mergeRouters,
  router,
  sessionProcedure,
  toTRPCError,
} from '@morgan/session-server/trpc';
import { attachWebSocket, type WebSocketAttachment } from '@morgan/session-server/ws';
import express from 'express';

/** Counters the test router and routes keep, shared across restarts. */
export interface ServerCounters {
  /** Executions of `test.count` (a non-idempotent mutation). */
  countRuns: number;
  /** `test.limited` fails with 429 this many more times. */
  limitedFailures: number;
  /** `GET /api/limited` answers 429 this many more times. */
  plainLimitedFailures: number;
  /** When set, `test.count` waits for it after counting (to cut a connection mid-call). */
  countGate?: Promise<void> | undefined;
}

function createTestRouter(counters: ServerCounters) {
  return mergeRouters(
    // The SDK's userId option is under test, so this server takes it from clients.
    createSessionRouter({ allowClientUserId: true }),
    router({
      test: router({
        whoami: sessionProcedure.query(({ ctx }) => ctx.session.sessionId),
        count: sessionProcedure.mutation(async () => {
          counters.countRuns += 1;
          const runs = counters.countRuns;
          await counters.countGate;
          return runs;
        }),
        /** Ends the caller's session, then fails as a call whose session ended under it does. */
        endSession: sessionProcedure.mutation(async ({ ctx }) => {
          counters.countRuns += 1;
          await ctx.manager.deleteSession(ctx.session.sessionId);
          throw toTRPCError(new MorganError(ErrorCode.SESSION_NOT_FOUND));
        }),
        /** Rotates the caller's session (`manager.rotateSession`); answers the new id. */
        rotate: sessionProcedure.mutation(
          async ({ ctx }) => (await ctx.manager.rotateSession(ctx.session.sessionId)).sessionId,
        ),
        limited: sessionProcedure.query(() => {
          if (counters.limitedFailures > 0) {
            counters.limitedFailures -= 1;
            throw toTRPCError(new MorganError(ErrorCode.RATE_LIMITED, 'Slow down'));
          }
          return 'ok';
        }),
      }),
    }),
  );
}

/** The router of the test server; clients use it as their `TRouter`. */
export type TestRouter = ReturnType<typeof createTestRouter>;

/** Options of {@link startTestServer}. */
export interface TestServerOptions {
  /** Manager options (timeout, capacity…) for this and later managers. */
  manager?: SessionManagerOptions;
  /** `Retry-After` of 503 answers, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /** Server ping interval, in ms. @default 25_000 */
  wsHeartbeatIntervalMs?: number;
}

/**
 * A real Morgan server for client tests: Express with `sessionMiddleware`,
 * tRPC over HTTP and WebSocket (`attachWebSocket`) on 127.0.0.1, port 0, and
 * a few routes. It can be restarted on the same port, keeping its manager
 * (sessions and event buffers survive) or with a fresh one, and its network
 * path can be cut without close frames.
 */
export class TestServer implements AsyncDisposable {
  readonly options: TestServerOptions;
  readonly counters: ServerCounters = { countRuns: 0, limitedFailures: 0, plainLimitedFailures: 0 };
  /** `METHOD path` of every HTTP request that reached the app, in order. */
  readonly requests: string[] = [];
  /** When each of `requests` arrived (`performance.now()`), to check the gaps between retries. */
  readonly requestTimes: number[] = [];
  /** The `Idempotency-Key` header of each of `requests` (undefined when it had none). */
  readonly idempotencyKeys: (string | undefined)[] = [];
  /** WebSocket upgrade requests received, across restarts: how often clients (re)connected. */
  upgrades = 0;
  /** Answer every WebSocket upgrade 403, as a proxy that passes no WebSockets does. */
  refuseUpgrades = false;
  /** Never answer WebSocket upgrades, as a proxy that swallows them does. */
  holdUpgrades = false;
  manager: SessionManager;
  port = 0;
  #server: Server | undefined;
  #ws: WebSocketAttachment | undefined;
  #sockets = new Set<Socket>();
  /** Connections whose latest request asked for `text/event-stream`. */
  #streamSockets = new Set<Socket>();
  #releaseHold: (() => void) | undefined;
  #held: Promise<void> | undefined;
  #releaseOn: string | undefined;

  private constructor(options: TestServerOptions) {
    this.options = options;
    this.manager = new SessionManager(options.manager).start();
  }

  /** Starts a server on a random port. */
  static async start(options: TestServerOptions = {}): Promise<TestServer> {
    const server = new TestServer(options);
    await server.listen();
    return server;
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** True while accepting connections. */
  get listening(): boolean {
    return this.#server?.listening === true;
  }

  /** Open, authenticated WebSockets. */
  get socketCount(): number {
    return this.#ws?.connectionCount ?? 0;
  }

  /** Open SSE streams (subscriptions over HTTP). */
  get streamCount(): number {
    return this.manager.streams.open;
  }

  /** Ends every open SSE stream from the server's side (the TCP connections carrying them). */
  cutStreams(): void {
    for (const socket of this.#streamSockets) socket.destroy();
  }

  /** Channels of shared sockets (`connection: 'shared'`): one per tab. */
  get channelCount(): number {
    return this.#ws?.channelCount ?? 0;
  }

  /** Shared sockets open (each carrying the channels of a browser's tabs). */
  get sharedSocketCount(): number {
    return this.#ws?.sharedSocketCount ?? 0;
  }

  /** Appends an event to a session's stream. */
  publish(sessionId: string, type: string, data: Record<string, string | number>) {
    return this.manager.publish(sessionId, type, data);
  }

  /** Makes `GET /hold` wait until `releaseHold()`: each waiting request holds a capacity slot. */
  holdRequests(): void {
    this.#held = new Promise((resolve) => {
      this.#releaseHold = resolve;
    });
  }

  releaseHold(): void {
    this.#releaseHold?.();
    this.#held = undefined;
  }

  /**
   * Releases the hold the moment `request` (`METHOD path`) reaches the app,
   * before the middleware sees it: that request still finds the slot taken,
   * and a retry that waits finds it free, with no polling lag in between.
   */
  releaseHoldOn(request: string): void {
    this.#releaseOn = request;
  }

  /** Listens (again) on the same port as before, or a random one the first time. */
  async listen(): Promise<void> {
    const app = this.#app();
    const server = createServer(app);
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#ws = attachWebSocket(server, {
      manager: this.manager,
      router: createTestRouter(this.counters),
      heartbeatIntervalMs: this.options.wsHeartbeatIntervalMs ?? 25_000,
      closeTimeoutMs: 500,
      endGraceMs: 50,
    });
    // Counts upgrades, and refuses them with 403 while `refuseUpgrades` (a
    // proxy that passes no WebSockets) before the WebSocket server sees them.
    const onUpgrade = server.listeners('upgrade') as ((...args: unknown[]) => void)[];
    server.removeAllListeners('upgrade');
    server.on('upgrade', (req, socket: Socket, head) => {
      this.upgrades += 1;
      if (this.holdUpgrades) return; // never answered; destroyed with the connections
      if (this.refuseUpgrades) {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      for (const listener of onUpgrade) listener.call(server, req, socket, head);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /**
   * A graceful stop like a deploy: sockets get 1001, the port is released.
   * The manager keeps running unless `stopManager`.
   */
  async stop({ stopManager = false } = {}): Promise<void> {
    await this.#ws?.close({ drainTimeoutMs: 500 });
    await this.#closeHttp();
    if (stopManager) await this.manager.stop({ drainTimeoutMs: 0 });
  }

  /**
   * Restarts on the same port: stops gracefully (1001) and listens again,
   * with the same manager (sessions survive) or a fresh one (they are lost).
   */
  async restart({ freshManager = false, downtimeMs = 0 } = {}): Promise<void> {
    await this.stop({ stopManager: freshManager });
    if (freshManager) this.manager = new SessionManager(this.options.manager).start();
    if (downtimeMs > 0) await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    await this.listen();
  }

  /** Cuts the network path: stops listening and destroys every connection, without close frames. */
  async cut(): Promise<void> {
    const server = this.#server;
    const ws = this.#ws;
    this.#server = undefined;
    this.#ws = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await ws?.close({ drainTimeoutMs: 0 });
    await closed;
  }

  async close(): Promise<void> {
    this.releaseHold();
    await this.stop({ stopManager: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #closeHttp(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#ws = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
  }

  #app(): express.Express {
    const app = express();
    app.use((req, res, next) => {
      if (req.headers.accept?.includes('text/event-stream')) {
        const socket = req.socket;
        this.#streamSockets.add(socket);
        res.once('close', () => this.#streamSockets.delete(socket));
      }
      this.requests.push(`${req.method} ${req.path}`);
      this.requestTimes.push(performance.now());
      this.idempotencyKeys.push(req.headers['idempotency-key'] as string | undefined);
      if (this.#releaseOn === `${req.method} ${req.path}`) {
        this.#releaseOn = undefined;
        this.releaseHold();
      }
      next();
    });
    app.use(
      sessionMiddleware(this.manager, { retryAfterSeconds: this.options.retryAfterSeconds ?? 1 }),
    );
    app.use(healthRoutes(this.manager));
    app.get('/hold', async (_req, res) => {
      await this.#held;
      res.json({ held: true });
    });
    app.get('/api/whoami', requireSession(), (req, res) => {
      res.json({ sessionId: req.morgan.session?.sessionId });
    });
    // Rotates the session; publishes `tick` events `{ n }` to the old session
    // before and to the new one after, in this one request, when asked.
    app.post('/api/rotate', requireSession(), express.json(), async (req, res, next) => {
      try {
        const { before = [], after = [] } = (req.body ?? {}) as {
          before?: number[];
          after?: number[];
        };
        const previous = req.morgan.session?.sessionId as string;
        for (const n of before) await this.publish(previous, 'tick', { n });
        const { sessionId } = await this.manager.rotateSession(previous);
        for (const n of after) await this.publish(sessionId, 'tick', { n });
        res.json({ previousSessionId: previous, sessionId });
      } catch (error) {
        next(error);
      }
    });
    app.post('/api/count', requireSession(), (_req, res) => {
      this.counters.countRuns += 1;
      res.json({ countRuns: this.counters.countRuns });
    });
    app.get('/api/limited', (_req, res) => {
      if (this.counters.plainLimitedFailures > 0) {
        this.counters.plainLimitedFailures -= 1;
        res
          .status(429)
          .set('Retry-After', new Date(Date.now() + 1_000).toUTCString())
          .json({ error: { code: 'RATE_LIMITED', message: 'Slow down' } });
        return;
      }
      res.json({ ok: true });
    });
    app.use(
      '/trpc',
      trpcHandler(this.manager, createTestRouter(this.counters), { onInternalError: () => {} }),
    );
    app.use(notFoundHandler());
    app.use(errorHandler({ onInternalError: () => {} }));
    return app;
  }
}

/** Starts a {@link TestServer}; dispose it with `await using`. */
export function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  return TestServer.start(options);
}
