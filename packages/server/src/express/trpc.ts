import type { AnyTRPCRouter as AnyRouter, inferRouterContext } from '@trpc/server';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import type { Request, RequestHandler, Response } from 'express';
import type { AllowedOrigins } from '../cross-origin.js';
import { ErrorCode, errorCodeInfo, MorganError, RateLimitedError } from '../errors.js';
import type { SessionManager } from '../manager.js';
import { CREATION_REFUSED } from '../manager.js';
import { redactError } from '../redact.js';
import { type AppContextOf, createHttpContext, type HttpContextOptions } from '../trpc/context.js';
import { batchTooLargeMessage, errorEnvelope } from '../trpc/error-envelope.js';
import { errorCodeOf } from '../trpc/errors.js';
import { isSessionCreateProcedure } from '../trpc/procedures.js';
import { crossSiteGuard } from './cross-site.js';
import { RefusalHold } from './refusal-hold.js';
import type { MorganRequestState } from './request.js';
import { errorBody, rateLimitHeaders, retryAfterHeaders, sendJsonText } from './respond.js';

/** Options of `trpcHandler`. */
export interface TrpcHandlerOptions<TRouter extends AnyRouter = AnyRouter> {
  /**
   * The app's own context (`db`, `user`, …), built per request from Express's
   * `{ req, res }` and merged with Morgan's fields (`session`, `manager`, …),
   * which win on a clash. Required when the router's context has fields
   * beyond Morgan's.
   * @default undefined (Morgan's fields only)
   */
  createContext?:
    | ((opts: HttpContextOptions) => AppContextOf<TRouter> | Promise<AppContextOf<TRouter>>)
    | undefined;
  /** Largest request body tRPC reads, in bytes. @default 1_048_576 (1 MiB) */
  maxBodyBytes?: number;
  /** Accept batched calls (`httpBatchLink`). @default true */
  allowBatching?: boolean;
  /** Most calls in one HTTP batch; a larger batch answers 400 `INVALID_REQUEST` and runs none. @default 100 */
  maxBatchSize?: number;
  /**
   * How long the 429 is held for an address that keeps calling
   * `session.create` while refused (it ignores `Retry-After`), in ms, at most
   * 64 answers per address and 4,096 in all (more are answered at once): a
   * flood slows to one answer per connection per delay and costs the node
   * next to nothing. Clients that honour `Retry-After`, as the SDK does,
   * never meet it. 0 answers at once.
   * @default 1_000
   */
  refusalDelayMs?: number;
  /**
   * Called with every call that failed with `INTERNAL_ERROR` (the client sees
   * only a generic message). @default logs to stderr
   */
  onInternalError?: (error: unknown, path: string | undefined) => void;
  /**
   * Other origins whose pages may call mutations from a browser. A POST
   * that the browser marks as cross-site (an HTML form posting
   * `multipart/form-data`, say) from an origin not allowed answers 403
   * `CROSS_SITE_REQUEST` and runs nothing; the same check as
   * `sessionMiddleware`'s, for a handler mounted without it.
   * @default the manager's `allowedOrigins` (none)
   */
  allowedOrigins?: AllowedOrigins;
}

const JSON_TYPE = 'application/json';

export const trpcHandlerDefaults = {
  maxBodyBytes: 1024 * 1024,
  allowBatching: true,
  maxBatchSize: 100,
  refusalDelayMs: 1_000,
  onInternalError: (error: unknown, path: string | undefined): void => {
    console.error(`[morgan] tRPC ${path ?? '?'} failed: ${redactError(error)}`);
  },
} as const satisfies Required<Omit<TrpcHandlerOptions, 'createContext' | 'allowedOrigins'>>;

/**
 * Serves a tRPC router over HTTP (on Morgan's tRPC instance, or the app's
 * own with `createMorganProcedures`), with Morgan's context taken from
 * `sessionMiddleware` (no second store lookup) merged with the app's
 * `createContext`. Mount it at
 * `/trpc`, after `sessionMiddleware`. Errors answer with the status of their
 * stable code (400/401/404/429/503) and carry it as `data.errorCode`.
 *
 * @example
 * app.use(sessionMiddleware(manager));
 * app.use('/trpc', trpcHandler(manager, appRouter));
 */
export function trpcHandler<TRouter extends AnyRouter>(
  manager: SessionManager,
  router: TRouter,
  options: TrpcHandlerOptions<TRouter> = {},
): RequestHandler {
  const settings = { ...trpcHandlerDefaults, ...options };
  const handler = createExpressMiddleware({
    router,
    createContext: createHttpContext(manager, options.createContext) as (
      opts: HttpContextOptions,
    ) => Promise<inferRouterContext<TRouter>>,
    maxBodySize: settings.maxBodyBytes,
    allowBatching: settings.allowBatching,
    maxBatchSize: settings.maxBatchSize,
    onError({ error, path }) {
      if (errorCodeOf(error) === ErrorCode.INTERNAL_ERROR) settings.onInternalError(error, path);
    },
    // A 503 (store outage, capacity, shutdown), 429 or 409 REQUEST_IN_PROGRESS
    // tells clients when to retry; a rate limit also says which one (IETF
    // RateLimit headers).
    responseMeta({ errors, eagerGeneration }) {
      let seconds: number | undefined;
      // tRPC sends errors raised before any call ran (a bad content type,
      // input that does not parse, too large a batch) as text/plain; every
      // answer with a whole JSON body says it is JSON. Streams keep theirs.
      const headers: Record<string, string> = eagerGeneration ? {} : { 'Content-Type': JSON_TYPE };
      for (const error of errors) {
        const code = errorCodeOf(error);
        const status = errorCodeInfo[code].httpStatus;
        if (status !== 503 && status !== 429 && code !== ErrorCode.REQUEST_IN_PROGRESS) continue;
        const cause = error.cause instanceof MorganError ? error.cause : undefined;
        const own = cause === undefined ? undefined : retryAfterHeaders(cause);
        seconds = Math.max(seconds ?? 0, Number(own?.['Retry-After']) || 1);
        Object.assign(headers, own);
      }
      if (seconds === undefined) return { headers };
      return { headers: { ...headers, 'Retry-After': String(seconds) } };
    },
  });
  const hold = new RefusalHold({
    delayMs: settings.refusalDelayMs,
    maxPerAddress: 64,
    maxTotal: 4_096,
  });
  const refuseCreation = creationRefusals(manager, router, hold);
  const refuseCrossSite = crossSiteGuard(options.allowedOrigins ?? manager.allowedOrigins);
  const refuseLargeBatch = batchLimit(router, settings.maxBatchSize);
  return function morganTrpc(req, res, next) {
    if (refuseCrossSite(req, res)) return;
    if (settings.allowBatching && refuseLargeBatch(req, res)) return;
    // Requests the Fetch API that tRPC builds its request with refuses,
    // which tRPC would answer 500 and report as internal errors.
    if (req.method === 'TRACE') {
      sendJsonText(res, 405, errorBody(ErrorCode.INVALID_REQUEST, 'Method TRACE is not allowed'), {
        Allow: 'GET, POST, HEAD',
      });
      return;
    }
    if (req.headers.host?.includes('@')) {
      // `Host: user@x` would make a URL with credentials.
      sendJsonText(res, 400, errorBody(ErrorCode.INVALID_REQUEST, 'Invalid Host header'));
      return;
    }
    // An address this node already refused for creating sessions is turned
    // away before tRPC sees the request, its body unread: a flood of
    // creations then costs next to nothing (the store counted the first refusal).
    if (refuseCreation(req, res)) return;
    // tRPC never reads the body of a GET. Left unread, it pauses the socket,
    // and a stream (SSE) would not see its client hang up until its next
    // write, holding its place meanwhile; discard it as Node does once a
    // response ends (the server's requestTimeout bounds how long it may last).
    if (req.method === 'GET' || req.method === 'HEAD') req.resume();
    // tRPC's last-resort error answer (an unparsable Host, say) sets no
    // type; its other answers set their own over this one.
    res.setHeader('Content-Type', JSON_TYPE);
    watchForStream(req, res);
    handler(req, res, next);
  };
}

/**
 * A subscription over SSE is a stream however it was asked for: when tRPC
 * answers `text/event-stream` to a request that held a request slot (it did
 * not send `Accept: text/event-stream`), the slot goes back and the stream
 * budget counts it instead, so no client can hold request slots with streams.
 */
function watchForStream(req: Request, res: Response): void {
  const state = req.morgan as MorganRequestState | undefined;
  if (state?.toStream === undefined) return;
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name, value) => {
    if (name.toLowerCase() === 'content-type' && String(value).startsWith('text/event-stream')) {
      state.toStream?.();
    }
    return setHeader(name, value);
  };
}

/**
 * Answers a request whose every call is `session.create` from an address
 * this node refused and whose window has not reset: 429 with `Retry-After`
 * and the RateLimit headers, and the error envelope tRPC itself would send
 * (the router's error formatter and transformer; one envelope stands for
 * every call of a batch), without reading the body. Returns false, and
 * answers nothing, for any other request.
 */
function creationRefusals(
  manager: SessionManager,
  router: AnyRouter,
  hold: RefusalHold,
): (req: Request, res: Response) => boolean {
  const procedures = router._def.procedures as Record<string, unknown>;
  // The envelope depends on the path only (message, code, errorCode); made
  // once per path, so a refusal allocates no error and formats nothing.
  const bodies = new Map<string, string | undefined>();
  const bodyOf = (path: string, paths: readonly string[]): string | undefined => {
    if (bodies.has(path)) return bodies.get(path);
    const refused = new RateLimitedError(CREATION_REFUSED);
    const envelope = errorEnvelope(router, refused, 'mutation', paths[0]);
    const body = envelope === undefined ? undefined : JSON.stringify(envelope);
    if (bodies.size < 64) bodies.set(path, body);
    return body;
  };
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const refusal = manager.creationRefusal(req.ip);
    if (refusal === undefined) return false;
    const path = req.path;
    const paths = path.slice(1).split(',');
    if (!paths.every((call) => isSessionCreateProcedure(procedures[call]))) return false;
    const body = bodyOf(path, paths);
    if (body === undefined) return false;
    // Keeping the connection would mean reading the whole body first (Node
    // drains it to reach the next request): a flood's bodies would cost as
    // much as before. Closing it instead leaves the body unread.
    if (hasBody(req)) res.setHeader('Connection', 'close');
    const answer = () => {
      const left = { ...refusal, resetMs: Math.max(0, refusal.resetMs - (Date.now() - at)) };
      sendJsonText(res, 429, body, {
        'Retry-After': String(Math.max(1, Math.ceil(left.resetMs / 1000))),
        ...rateLimitHeaders({ name: 'create', ...left }),
      });
    };
    const at = Date.now();
    hold.hold(req.ip ?? '', refusal.resetMs, (listener) => res.once('close', listener), answer);
    return true;
  };
}

/**
 * Answers a batch of more than `max` calls with 400 `INVALID_REQUEST`
 * before tRPC reads it, so none of its calls runs (whatever the installed
 * tRPC's own `maxBatchSize` support), and returns true; false for any other
 * request.
 */
function batchLimit(router: AnyRouter, max: number): (req: Request, res: Response) => boolean {
  const error = new MorganError(ErrorCode.INVALID_REQUEST, batchTooLargeMessage(max));
  const envelope = errorEnvelope(router, error, 'unknown');
  const body =
    envelope === undefined ? errorBody(error.code, error.message) : JSON.stringify(envelope);
  return (req, res) => {
    const url = req.url;
    const query = url.indexOf('?');
    if (query === -1 || !/[?&]batch=(1|true)(&|$)/.test(url.slice(query))) return false;
    // tRPC splits the decoded path at commas.
    const calls = decodedPath(url.slice(0, query)).split(',').length;
    if (calls <= max) return false;
    if (hasBody(req)) res.setHeader('Connection', 'close');
    sendJsonText(res, 400, body);
    return true;
  };
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}
