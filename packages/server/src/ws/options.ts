import type { IncomingMessage } from 'node:http';
import type {
  AnyTRPCRouter as AnyRouter,
  inferRouterContext,
  TRPCError,
  TRPCProcedureType,
} from '@trpc/server';
import type { AllowedOrigins } from '../cross-origin.js';
import type { SessionManager } from '../manager.js';
import type { AppContextOf } from '../trpc/context.js';

/** What an app's `createContext` gets for a socket. */
export interface WebSocketContextOptions {
  /** The upgrade request: its cookies and headers, for example to find the logged-in user. */
  req: IncomingMessage;
  /** The socket's tRPC `connectionParams` (string values), `sessionId` included: a token, for example. */
  connectionParams: Record<string, string> | null;
}

/** What `onError` gets: the error of a call over a socket, as tRPC's adapters report one. */
export interface WebSocketErrorInfo<TRouter extends AnyRouter = AnyRouter> {
  error: TRPCError;
  type: TRPCProcedureType | 'unknown';
  path: string | undefined;
  input: unknown;
  ctx: inferRouterContext<TRouter> | undefined;
  /** The socket's upgrade request. */
  req: IncomingMessage;
}

/** Options of `attachWebSocket`. */
export interface AttachWebSocketOptions<TRouter extends AnyRouter> {
  /** The manager whose sessions authenticate sockets. */
  manager: SessionManager;
  /** The app's router (built on Morgan's tRPC instance), the same as over HTTP. */
  router: TRouter;
  /** Upgrade path. Other paths get 404 unless another `upgrade` listener is registered. @default '/trpc' */
  path?: string;
  /** Time between server pings, in ms. @default 25_000 */
  heartbeatIntervalMs?: number;
  /** A peer that does not answer a ping within this time is terminated, in ms. @default 10_000 */
  heartbeatTimeoutMs?: number;
  /** Largest incoming message, in bytes; larger ones close the socket with 1009. @default 1_048_576 (1 MiB) */
  maxPayload?: number;
  /**
   * Other origins whose pages may open a socket (exact `Origin` values, such
   * as `https://app.example.com`, or a function deciding). An upgrade whose
   * `Origin` is another origin (another site, or a sibling subdomain) and
   * not allowed gets 403 `FORBIDDEN_ORIGIN` before the upgrade, so a page
   * elsewhere cannot ride on the visitor's cookies. Same-origin pages (by
   * `requestHost`) and clients without an `Origin` (servers, the SDK in
   * Node) always connect.
   * @default the manager's `allowedOrigins` (none)
   */
  allowedOrigins?: AllowedOrigins | undefined;
  /**
   * The host an upgrade request was sent to, against which a page's
   * `Origin` counts as same-origin. Behind a load balancer that rewrites
   * `Host`, pass `requestHostOf(app)` (`./express`): it follows the app's
   * `trust proxy` setting and `X-Forwarded-Host`, as `req.host` does.
   * @default the `Host` header
   */
  requestHost?: ((req: IncomingMessage) => string | undefined) | undefined;
  /** Time a new socket has to send its `connectionParams`, in ms; then it is closed with 4400. @default 10_000 */
  authTimeoutMs?: number;
  /**
   * Shortest time between two `lastActivity` writes caused by pongs and
   * messages of one session, in ms. Open sockets pin a session anyway, so
   * this only bounds store writes. 0 writes on every pong and message.
   * @default 1_000
   */
  touchIntervalMs?: number;
  /** Longest wait for a close handshake in `close()` before the socket is cut, in ms. @default 2_000 */
  closeTimeoutMs?: number;
  /**
   * Longest delay before the sockets of a deleted or expired session are
   * closed with 4404, to let a call in flight on them (such as the
   * `session.delete` that caused it) send its answer, in ms.
   * @default 250
   */
  endGraceMs?: number;
  /** Largest batch of calls in one message. @default 100 */
  maxBatchSize?: number;
  /**
   * Open sockets one session may have, counted across nodes (the store's
   * `connectionCount`); one more is closed with 4429 `RATE_LIMITED`.
   * @default 16
   */
  maxSocketsPerSession?: number;
  /**
   * Sockets one client address may hold on this node before they have
   * authenticated; more upgrades answer 429 `RATE_LIMITED`.
   * @default 32
   */
  maxPendingSocketsPerAddress?: number;
  /**
   * Channels one shared socket (`/trpc?mux=1`, the SDK's `connection:
   * 'shared'`: one socket for a browser's tabs, one channel per tab) may
   * carry at once; one more is closed alone with 4429 `TOO_MANY_CHANNELS`.
   * Each channel counts as a socket of its session.
   * @default 32
   */
  maxChannelsPerSocket?: number;
  /** `session.events` subscriptions one socket may hold at once; more fail with `RATE_LIMITED`. @default 8 */
  maxSubscriptionsPerSocket?: number;
  /**
   * Bytes a socket may have queued for a client that does not read them;
   * past it the socket is closed with 1013 (reason `SLOW_CONSUMER`), and cut
   * if even the close cannot be delivered, instead of buffering without bound.
   * @default 4_194_304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * The app's own context (`db`, `user`, …), built once per socket when it
   * has authenticated its session, merged with Morgan's fields (which win on
   * a clash). A throw closes the socket with the close code of the error's
   * stable code (1011 for anything that is not a `MorganError`). Required
   * when the router's context has fields beyond Morgan's.
   * @default undefined (Morgan's fields only)
   */
  createContext?:
    | ((opts: WebSocketContextOptions) => AppContextOf<TRouter> | Promise<AppContextOf<TRouter>>)
    | undefined;
  /** Called with each error a procedure throws (tRPC's `onError`). */
  onError?: ((info: WebSocketErrorInfo<TRouter>) => void) | undefined;
  /**
   * The client's address, for the limits per address (sockets not yet
   * authenticated, session creations). Behind a load balancer, derive it as
   * the Express app does: `clientAddressOf(app)` (`./express`) honours its
   * `trust proxy` setting and `X-Forwarded-For`.
   * @default the socket's remote address
   */
  clientAddress?: ((req: IncomingMessage) => string | undefined) | undefined;
}

/** The numeric and path options, resolved. */
export type WebSocketSettings = Required<
  Omit<
    AttachWebSocketOptions<AnyRouter>,
    | 'manager'
    | 'router'
    | 'allowedOrigins'
    | 'onError'
    | 'createContext'
    | 'clientAddress'
    | 'requestHost'
  >
>;

export const attachWebSocketDefaults = {
  path: '/trpc',
  heartbeatIntervalMs: 25_000,
  heartbeatTimeoutMs: 10_000,
  maxPayload: 1024 * 1024,
  authTimeoutMs: 10_000,
  touchIntervalMs: 1_000,
  closeTimeoutMs: 2_000,
  endGraceMs: 250,
  maxBatchSize: 100,
  maxSocketsPerSession: 16,
  maxPendingSocketsPerAddress: 32,
  maxSubscriptionsPerSocket: 8,
  maxChannelsPerSocket: 32,
  maxBufferedBytes: 4 * 1024 * 1024,
} as const satisfies WebSocketSettings;

/** Options of `WebSocketAttachment.close`. */
export interface CloseWebSocketOptions {
  /** Close code sent to every socket. @default 1001 (going away) */
  code?: number;
  /** Longest wait for calls in flight before the sockets are closed, in ms. @default the manager's `drainTimeoutMs` */
  drainTimeoutMs?: number;
}

/** The settings in effect: each option given (and not undefined) over its default. */
export function resolveSettings(options: Partial<WebSocketSettings>): WebSocketSettings {
  const given = Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<WebSocketSettings>;
  return { ...attachWebSocketDefaults, ...given };
}
