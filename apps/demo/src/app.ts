import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  type MorganConfig,
  redactError,
  SessionManager,
  type SessionManagerOptions,
} from '@morgan/session-server';
import {
  clientAddressOf,
  createShutdown,
  errorHandler,
  hardenServer,
  healthRoutes,
  MorganMetrics,
  notFoundHandler,
  requestHostOf,
  requireSession,
  type Shutdown,
  sendJson,
  sessionMiddleware,
  trpcHandler,
} from '@morgan/session-server/express';
import { RedisEventLog, RedisStore } from '@morgan/session-server/redis';
import {
  type AttachWebSocketOptions,
  attachWebSocket,
  type WebSocketAttachment,
} from '@morgan/session-server/ws';
import express, { type Express } from 'express';
import { type Admin, type AdminOptions, createAdmin } from './admin/index.js';
import { type ChatOptions, ChatService } from './chat.js';
import { MemoryMessageCounter, RedisMessageCounter } from './message-count.js';
import { type AppRouter, createAppRouter } from './router.js';
import { securityHeaders } from './security-headers.js';

/** Options of `createDemoServer`. */
export interface DemoServerOptions {
  /** Settings from the environment (`loadConfig()`). @default {} (option defaults) */
  config?: MorganConfig;
  /** A manager to use instead of one built from `config`; the demo still starts and stops it. */
  manager?: SessionManager;
  /** Extra manager options, over those from `config`. @default {} */
  managerOptions?: SessionManagerOptions;
  /** Directory served at `/` (chat) and `/admin/` (dashboard). @default apps/demo/public */
  publicDir?: string;
  chat?: Omit<ChatOptions, 'beforeReply'>;
  /**
   * The admin dashboard's server side (its `token` guards `/api/admin`; read
   * it from `DemoServer.admin.token`); `false` leaves it out.
   * @default {} (a random token)
   */
  admin?: AdminOptions | false;
  /** WebSocket options (heartbeats, `allowedOrigins`, …). @default attachWebSocketDefaults */
  ws?: Omit<AttachWebSocketOptions<AppRouter>, 'manager' | 'router'>;
  /** Longest wait for in-flight requests on shutdown, in ms. @default 10_000 */
  drainTimeoutMs?: number;
  /** Ends the process after a signal-driven shutdown. @default process.exit */
  exit?: (code: number) => void;
  /** Progress and error messages. @default stderr */
  log?: (message: string) => void;
}

/** A demo node, created but not listening. */
export interface DemoServer {
  readonly app: Express;
  /** The HTTP server (the WebSocket layer attaches its upgrade handler here). */
  readonly server: Server;
  /** tRPC over WebSocket at `/trpc` on the same server. */
  readonly ws: WebSocketAttachment;
  readonly manager: SessionManager;
  readonly router: AppRouter;
  readonly chat: ChatService;
  readonly admin: Admin | undefined;
  readonly shutdown: Shutdown;
  /** Listens on `port` (0 for any free one); resolves the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Shuts down without exiting the process (tests). */
  close(): Promise<void>;
}

const defaultPublicDir = fileURLToPath(new URL('../public', import.meta.url));

/**
 * Builds the demo node: security headers, admin API (behind the admin token),
 * health/ready/metrics, static pages, the session middleware, tRPC at
 * `/trpc`, `POST /api/chat`, JSON 404 and the JSON error handler, in that
 * order.
 *
 * @example
 * const demo = createDemoServer({ config: loadConfig() });
 * demo.shutdown.installSignalHandlers();
 * await demo.listen(3000);
 */
export function createDemoServer(options: DemoServerOptions = {}): DemoServer {
  const log = options.log ?? ((message: string) => process.stderr.write(`[demo] ${message}\n`));
  const manager = options.manager ?? new SessionManager(managerOptions(options));
  manager.start();
  const admin =
    options.admin === false
      ? undefined
      : createAdmin(manager, {
          // Read per state report, once the WebSocket layer below is attached.
          webSockets: () => ({
            sockets: ws.connectionCount,
            sharedSockets: ws.sharedSocketCount,
            channels: ws.channelCount,
          }),
          ...options.admin,
        });
  const chat = new ChatService(manager, {
    ...options.chat,
    counter:
      manager.store instanceof RedisStore
        ? new RedisMessageCounter(manager.store)
        : new MemoryMessageCounter(),
    ...(admin && { beforeReply: () => admin.overload.delay() }),
  });
  const appRouter = createAppRouter(chat);
  const metrics = new MorganMetrics(manager);
  const app = express();
  // Behind a load balancer (MORGAN_TRUST_PROXY): req.ip, and the sockets'
  // address below, are the client's, so per-address limits count clients apart.
  const trustProxy = options.config?.trustProxy;
  if (trustProxy !== undefined) app.set('trust proxy', trustProxy);
  // Slow and greedy clients get the hardened limits (headers within 10 s, …).
  const server = hardenServer(createServer(app));
  const shutdown = createShutdown({
    server,
    manager,
    log,
    ...(options.drainTimeoutMs !== undefined && { drainTimeoutMs: options.drainTimeoutMs }),
    ...(options.exit !== undefined && { exit: options.exit }),
  });
  const ws = attachWebSocket(server, {
    manager,
    router: appRouter,
    clientAddress: clientAddressOf(app),
    // Behind a balancer that rewrites Host, the page's origin is judged by X-Forwarded-Host.
    requestHost: requestHostOf(app),
    ...options.ws,
  });
  metrics.observeWebSocket(ws);
  shutdown.onShutdown(() => {
    admin?.close();
    return chat.close();
  });
  // Requests (WebSocket calls included) have drained by now: close sockets with 1001.
  shutdown.onShutdown(() => ws.close({ drainTimeoutMs: 1_000 }));

  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(metrics.requestTimer());
  if (admin !== undefined) app.use('/api/admin', admin.routes);
  app.use(healthRoutes(manager, { metrics, isDraining: () => shutdown.draining }));
  app.use(express.static(options.publicDir ?? defaultPublicDir, { index: 'index.html' }));
  app.use(sessionMiddleware(manager));
  app.use('/trpc', trpcHandler(manager, appRouter, { onInternalError: internalLogger(log) }));
  app.post('/api/chat', requireSession(), express.json({ limit: '16kb' }), async (req, res) => {
    const body: unknown = req.body;
    const message =
      typeof body === 'object' && body !== null
        ? (body as { message?: unknown }).message
        : undefined;
    // requireSession() above guarantees the session
    sendJson(res, 200, await chat.send(req.morgan.session!.sessionId, message));
  });
  app.use(notFoundHandler());
  app.use(errorHandler({ onInternalError: internalLogger(log) }));

  return {
    app,
    server,
    ws,
    manager,
    router: appRouter,
    chat,
    admin,
    shutdown,
    async listen(port, host) {
      server.listen(port, host);
      await once(server, 'listening');
      return server.address() as AddressInfo;
    },
    close: () => shutdown.shutdown(),
  };
}

/**
 * The demo's own defaults: many tabs on one machine share one address, so it
 * allows more session creations per address than the library's 60 a minute
 * (`MORGAN_CREATE_RATE_LIMIT` overrides it).
 */
const demoDefaults = {
  createRateLimit: { limit: 600, windowMs: 60_000 },
} as const satisfies SessionManagerOptions;

/**
 * Manager options from the config; with `redisUrl`, `redisClusterNodes` or
 * `redisSentinels`, sessions and event buffers live in Redis.
 */
function managerOptions(options: DemoServerOptions): SessionManagerOptions {
  const {
    redisUrl,
    redisClusterNodes,
    redisSentinels,
    redisSentinelName,
    redisKeyPrefix,
    trustProxy: _trustProxy,
    port: _port,
    ...config
  } = options.config ?? {};
  const fromConfig = { ...demoDefaults, ...config };
  if (redisUrl === undefined && redisClusterNodes === undefined && redisSentinels === undefined) {
    return { ...fromConfig, ...options.managerOptions };
  }
  // Cluster nodes win over the URL; sentinels name the master, the URL then
  // only gives its credentials and database (loadConfig refuses both kinds).
  const redis = {
    ...(redisClusterNodes !== undefined
      ? { clusterNodes: redisClusterNodes }
      : redisUrl !== undefined && { url: redisUrl }),
    ...(redisSentinels !== undefined && { sentinels: redisSentinels }),
    ...(redisSentinelName !== undefined && { sentinelName: redisSentinelName }),
    ...(redisKeyPrefix !== undefined && { keyPrefix: redisKeyPrefix }),
  };
  const given = options.managerOptions;
  return {
    ...fromConfig,
    ...given,
    store: given?.store ?? new RedisStore(redis),
    eventLog: given?.eventLog ?? new RedisEventLog(redis),
  };
}

/** Logs internal errors with session ids shortened and URL passwords hidden. */
function internalLogger(log: (message: string) => void) {
  return (error: unknown) => {
    log(`internal error: ${redactError(error)}`);
  };
}
