import type { AnyRouter, inferRouterContext } from '@trpc/server';
import type { Request, Response } from 'express';
import { ErrorCode } from '../errors.js';
import type { MorganRequestState } from '../express/request.js';
import type { SessionManager } from '../manager.js';
import { SESSION_HEADER } from '../protocol.js';
import type { Session } from '../session.js';
import { isSessionId } from '../session.js';
import { notStarted, toTRPCError } from './errors.js';

/** Marks the value of `ctx.idempotencyKey` for a keyed HTTP request of several calls. */
export const BATCHED_KEY = Symbol('morgan.batchedIdempotencyKey');

/**
 * What Morgan puts in every procedure's `ctx`, over HTTP and WebSocket. An
 * app with its own tRPC instance declares its context as
 * `AppContext & MorganContext`; `trpcHandler` and `attachWebSocket` merge the
 * app's `createContext` result with these fields.
 */
export interface MorganContext {
  manager: SessionManager;
  /** The caller's session, when it sent a valid, known id. */
  session?: Session | undefined;
  /** Why `session` is missing although an id was sent. */
  sessionError?: MorganRequestState['error'];
  /**
   * The request's `Idempotency-Key` header over HTTP, as sent (checked by
   * the idempotency middleware; `BATCHED_KEY` when the request carried
   * several calls). Over WebSocket each message carries its own.
   */
  idempotencyKey?: string | typeof BATCHED_KEY | undefined;
  /** `http` for Express requests, `ws` for WebSocket calls. */
  transport: 'http' | 'ws';
  /**
   * The caller's address, which per-address limits count by: Express's
   * `req.ip` (so `trust proxy` applies) over HTTP, the socket's remote
   * address over WebSocket.
   */
  clientAddress?: string | undefined;
  /**
   * Set by transports that account for each call themselves (WebSocket:
   * request tracking on the session, node capacity, shutdown drain). Every
   * Morgan procedure runs through it, with its path (`session.heartbeat`),
   * which decides its class at the edge of capacity.
   */
  runCall?: (<T>(call: () => Promise<T>, path: string) => Promise<T>) | undefined;
  /**
   * Set by transports that bound subscriptions per connection (WebSocket):
   * takes a slot and returns its release.
   * @throws RateLimitedError when the connection holds its share.
   */
  openSubscription?: (() => () => void) | undefined;
}

/** What an app's `createContext` gets over HTTP: Express's request and response. */
export interface HttpContextOptions {
  req: Request;
  res: Response;
}

/**
 * The part of a router's context that the app provides: everything but
 * Morgan's fields. `{}` for routers on Morgan's own instance.
 */
export type AppContextOf<TRouter extends AnyRouter> = Omit<
  inferRouterContext<TRouter>,
  keyof MorganContext
>;

/**
 * Context for tRPC over Express: the app's `createContext` result (if any)
 * merged with Morgan's fields. Reads the session that `sessionMiddleware`
 * attached (`req.morgan.session`), so no second store lookup happens;
 * without the middleware it resolves the `X-Session-Id` header itself.
 *
 * @example
 * app.use('/trpc', createExpressMiddleware({ router, createContext: createHttpContext(manager) }));
 */
export function createHttpContext<TAppContext extends object = object>(
  manager: SessionManager,
  createContext?: (opts: HttpContextOptions) => TAppContext | Promise<TAppContext>,
): (opts: HttpContextOptions) => Promise<TAppContext & MorganContext> {
  return async (opts) => {
    const morgan = await morganHttpContext(manager, opts.req);
    if (createContext === undefined) return morgan as TAppContext & MorganContext;
    return { ...(await createContext(opts)), ...morgan };
  };
}

async function morganHttpContext(manager: SessionManager, req: Request): Promise<MorganContext> {
  const state: MorganRequestState | undefined = req.morgan;
  const idempotencyKey = idempotencyKeyOf(req);
  if (state !== undefined) {
    if (state.rejection !== undefined) throw notStarted(toTRPCError(state.rejection));
    return {
      manager,
      session: state.session,
      sessionError: state.error,
      idempotencyKey,
      transport: 'http',
      clientAddress: req.ip,
    };
  }
  const context = await resolveSessionContext(manager, req.header(SESSION_HEADER), 'http');
  return { ...context, idempotencyKey, clientAddress: req.ip };
}

/** The `Idempotency-Key` header; `BATCHED_KEY` on a request of several calls (`/a,b`). */
function idempotencyKeyOf(req: Request): MorganContext['idempotencyKey'] {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (req.path.includes(',')) return BATCHED_KEY;
  return Array.isArray(key) ? key.join(', ') : key;
}

/** Looks a session id up and builds the context; shared by HTTP and WebSocket. */
export async function resolveSessionContext(
  manager: SessionManager,
  sessionId: unknown,
  transport: MorganContext['transport'],
): Promise<MorganContext> {
  if (sessionId === undefined || sessionId === null || sessionId === '') {
    return { manager, transport };
  }
  if (!isSessionId(sessionId)) {
    return { manager, transport, sessionError: ErrorCode.INVALID_SESSION_ID };
  }
  const session = await manager.touch(sessionId);
  if (session === undefined) {
    return { manager, transport, sessionError: ErrorCode.SESSION_NOT_FOUND };
  }
  return { manager, transport, session };
}
