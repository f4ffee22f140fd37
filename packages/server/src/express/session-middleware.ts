import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { batchPathClass, type RequestClass } from '../capacity/request-class.js';
import type { AllowedOrigins } from '../cross-origin.js';
import {
  CapacityError,
  ErrorCode,
  MorganError,
  RateLimitedError,
  SessionNotFoundError,
} from '../errors.js';
import type { SessionManager, TrackedRequest } from '../manager.js';
import { SESSION_HEADER_LOWER } from '../protocol.js';
import { isSessionId } from '../session.js';
import { type Admission, AdmittedRequest } from './admitted-request.js';
import { crossSiteGuard } from './cross-site.js';
import { EarlyRetries } from './early-retries.js';
import type { MorganRequestState } from './request.js';
import { errorBody, prepareJsonResponse, retryAfterHeaders, sendError } from './respond.js';
import { rotationNoticesOf } from './rotations.js';

/** Options of `sessionMiddleware`. */
export interface SessionMiddlewareOptions {
  /** Request header that carries the session id (compared case-insensitively). @default 'x-session-id' */
  headerName?: string;
  /**
   * Paths (matched exactly against `req.path`) that pass through untouched:
   * no capacity slot, no session lookup. Keep probes and scrapes here so that
   * they answer while the node is at capacity.
   * @default ['/health', '/ready', '/metrics']
   */
  exemptPaths?: readonly string[];
  /**
   * Path prefixes (tRPC) where the middleware does not answer its errors
   * itself, so that clients get them in tRPC's envelope with
   * `data.errorCode`:
   * - an unknown or malformed session id goes on without a session and the
   *   reason in `req.morgan.error`: `sessionProcedure` rejects with it (404 /
   *   400) while public procedures such as `session.create` still run, so a
   *   client whose stored id went stale can get a new session;
   * - a shed request (503 `SERVER_AT_CAPACITY`, `Retry-After` already set)
   *   or a store failure goes on without a slot and with
   *   `req.morgan.rejection`: the tRPC context throws it before any procedure
   *   runs or the body is read.
   * @default ['/trpc']
   */
  deferErrorPaths?: readonly string[];
  /** `Retry-After` sent with 503 `SERVER_AT_CAPACITY`, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /**
   * Path prefixes (matched against `req.path`) whose requests are session
   * control, admitted before app traffic at the edge of capacity (an app's
   * login route, say). Morgan's own tRPC calls under `deferErrorPaths` are
   * session control without being listed when every call of the request is
   * a `session.*` procedure (`/trpc/session.heartbeat`).
   * @default []
   */
  controlPaths?: readonly string[];
  /**
   * Slows the 503s of clients that ignore `Retry-After`: a request shed on
   * a connection whose previous request was shed less than
   * `retryAfterSeconds` ago is answered only once that time has passed, so
   * a client retrying at once costs one answer per `Retry-After` instead of
   * a storm that takes the CPU admitted requests need. Clients that honour
   * `Retry-After` (the SDK) never wait; at most 10,000 answers wait at once.
   * @default false
   */
  slowEarlyRetries?: boolean;
  /**
   * Other origins whose pages may send unsafe requests (POST, PUT, PATCH,
   * DELETE, …) through this middleware. A request that the browser marks
   * as cross-site (`Sec-Fetch-Site`, or else an `Origin` whose host is not
   * the request's) from an origin not allowed answers 403
   * `CROSS_SITE_REQUEST` before anything else runs. Requests with neither
   * header (servers, curl, the SDK in Node) pass.
   * @default the manager's `allowedOrigins` (none)
   */
  allowedOrigins?: AllowedOrigins;
}

export const sessionMiddlewareDefaults = {
  headerName: SESSION_HEADER_LOWER,
  exemptPaths: ['/health', '/ready', '/metrics'],
  deferErrorPaths: ['/trpc'],
  retryAfterSeconds: 1,
  controlPaths: [],
  slowEarlyRetries: false,
} as const satisfies Required<Omit<SessionMiddlewareOptions, 'allowedOrigins'>>;

const NO_SESSION: MorganRequestState = Object.freeze({});

/**
 * Express middleware that admits, identifies and tracks each request.
 *
 * In order: exempt paths pass through; an unsafe request from a browser
 * page of another origin not in `allowedOrigins` gets 403
 * `CROSS_SITE_REQUEST`; a request past the node's capacity
 * (`manager.capacity`: `maxConcurrentRequests` or the adaptive limit, plus a
 * headroom for session control and the manager's optional short queue)
 * gets 503 `SERVER_AT_CAPACITY` with `Retry-After`, without touching the
 * store; a request without `X-Session-Id` passes with `req.morgan.session`
 * undefined; a malformed id gets 400 `INVALID_SESSION_ID`, an unknown or
 * expired one 404 `SESSION_NOT_FOUND` (under `deferErrorPaths` both pass on
 * with `req.morgan.error` instead). Otherwise the request is tracked on its
 * session, which touches `lastActivity`. The capacity slot and the tracked
 * request are released exactly once, when the response finishes or the
 * client goes away.
 *
 * Mount it before any body parser: a shed request's body is never read.
 *
 * @example
 * app.use(sessionMiddleware(manager));
 * app.post('/api/chat', requireSession(), express.json(), chat);
 */
export function sessionMiddleware(
  manager: SessionManager,
  options: SessionMiddlewareOptions = {},
): RequestHandler {
  const settings = { ...sessionMiddlewareDefaults, ...options };
  const { headerName, exemptPaths, deferErrorPaths, retryAfterSeconds, controlPaths } = settings;
  const early = settings.slowEarlyRetries ? new EarlyRetries(retryAfterSeconds * 1000) : undefined;
  const header = headerName.toLowerCase();
  const exempt = new Set(exemptPaths);
  const deferred = deferErrorPaths.map((path) => path.replace(/\/+$/, ''));
  const limiter = manager.capacity;
  const shedBody = errorBody(ErrorCode.SERVER_AT_CAPACITY);
  const shedHeaders = { 'Retry-After': String(retryAfterSeconds) };
  const shedError = new CapacityError(retryAfterSeconds);
  const tooManyStreams = new RateLimitedError(
    'This session has too many open streams',
    retryAfterSeconds,
  );
  const sendShed = prepareJsonResponse(503, shedBody, shedHeaders);
  const refuseCrossSite = crossSiteGuard(options.allowedOrigins ?? manager.allowedOrigins);
  const rotations = rotationNoticesOf(manager);

  const defers = (path: string): boolean => {
    for (const prefix of deferred) {
      if (path === prefix || path.startsWith(`${prefix}/`)) return true;
    }
    return false;
  };

  /** Session control or app traffic, from the path alone (no query, no body). */
  const classOf = (path: string): RequestClass => {
    for (const prefix of deferred) {
      const end = prefix.length;
      if (path.length > end + 1 && path.charCodeAt(end) === 47 && path.startsWith(prefix)) {
        return batchPathClass(path, end + 1);
      }
    }
    for (const prefix of controlPaths) if (path.startsWith(prefix)) return 'control';
    return 'app';
  };

  const shed = (req: Request, res: Response, next: NextFunction): void => {
    const waitMs = early?.shed(req.socket) ?? 0;
    if (waitMs > 0 && early?.hold(res, waitMs, () => shedNow(req, res, next))) return;
    shedNow(req, res, next);
  };

  const shedNow = (req: Request, res: Response, next: NextFunction): void => {
    if (defers(req.path)) {
      res.setHeader('Retry-After', shedHeaders['Retry-After']);
      req.morgan = { rejection: shedError };
      next();
      return;
    }
    sendShed(res);
  };

  const admission: Admission = {
    limiter,
    streams: manager.streams,
    rotations,
    shedError,
    tooManyStreams,
  };

  /**
   * Identifies and tracks a request. A stream holds no capacity slot (it was
   * admitted without one) but a place in the node's stream budget.
   */
  const admitted = (
    req: Request,
    res: Response,
    next: NextFunction,
    asStream: boolean,
    headers: Request['headers'] = req.headers,
  ): void => {
    const admittedRequest = new AdmittedRequest(admission, res, asStream);
    const id = headers[header];
    if (id === undefined || id === '') {
      if (asStream && !admittedRequest.openStream(undefined)) return;
      req.morgan = asStream ? NO_SESSION : admittedRequest;
      next();
      return;
    }
    if (typeof id !== 'string' || !isSessionId(id)) {
      reject(req, res, next, ErrorCode.INVALID_SESSION_ID);
      return;
    }
    let request: TrackedRequest | undefined;
    try {
      request = manager.beginRequestSync(id);
    } catch (error) {
      failed(req, res, next, error);
      return;
    }
    if (request !== undefined) {
      admittedRequest.track(request);
      if (asStream && !admittedRequest.openStream(id)) return;
      req.morgan = admittedRequest;
      next();
      return;
    }
    manager.beginRequest(id).then(
      (request) => {
        if (admittedRequest.done) {
          void request.end();
          return;
        }
        admittedRequest.track(request);
        if (asStream && !admittedRequest.openStream(id)) return;
        req.morgan = admittedRequest;
        next();
      },
      (error: unknown) => {
        if (!admittedRequest.done) failed(req, res, next, error);
      },
    );
  };

  const failed = (req: Request, res: Response, next: NextFunction, error: unknown): void => {
    if (error instanceof SessionNotFoundError) {
      reject(req, res, next, ErrorCode.SESSION_NOT_FOUND);
    } else if (error instanceof MorganError && defers(req.path)) {
      const headers = retryAfterHeaders(error);
      if (headers !== undefined) res.setHeader('Retry-After', headers['Retry-After'] as string);
      req.morgan = { rejection: error };
      next();
    } else {
      next(error);
    }
  };

  const reject = (
    req: Request,
    res: Response,
    next: NextFunction,
    code: NonNullable<MorganRequestState['error']>,
  ): void => {
    // A stream is answered here even under deferErrorPaths: tRPC would open
    // it (200) and send the error as an event, and an SSE client must learn
    // from the status that its session is gone (to replace it) before it
    // counts the stream as connected.
    if (defers(req.path) && !isStream(req)) {
      req.morgan = { error: code };
      next();
    } else {
      sendError(res, code);
    }
  };

  return function morganSession(req, res, next) {
    const path = pathOf(req);
    if (exempt.has(path)) {
      req.morgan = NO_SESSION;
      next();
      return;
    }
    // Each read of `req` is a megamorphic load (see AdmittedRequest): headers once.
    const headers = req.headers;
    const method = req.method;
    if (method !== 'GET' && refuseCrossSite(req, res)) return;
    if (method === 'GET' && acceptsEventStream(headers)) {
      admitted(req, res, next, true, headers);
      return;
    }
    const slot = limiter.acquire(classOf(path));
    if (slot === true) {
      admitted(req, res, next, false, headers);
    } else if (slot === false) {
      shed(req, res, next);
    } else {
      slot.then((granted) => {
        if (!granted) shed(req, res, next);
        else if (res.writableEnded || res.socket === null || res.socket.destroyed)
          limiter.release();
        else admitted(req, res, next, false);
      });
    }
  };
}

/**
 * `req.path` without its getter: the URL up to `?` (`req.url` is already
 * relative to the middleware's mount point). The getter goes through
 * parseurl's cache on the request, several megamorphic reads per call.
 */
function pathOf(req: Request): string {
  const url = req.url;
  // An absolute-form target (`GET http://host/path`) is left to parseurl.
  if (url.charCodeAt(0) !== 47) return req.path;
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * True for a long-lived stream: an SSE subscription (tRPC's
 * `httpSubscriptionLink`, an `EventSource`) asks for `text/event-stream`.
 */
function isStream(req: Request): boolean {
  return req.method === 'GET' && acceptsEventStream(req.headers);
}

function acceptsEventStream(headers: Request['headers']): boolean {
  return headers.accept?.includes('text/event-stream') ?? false;
}

/**
 * Answers 401 `SESSION_REQUIRED` unless `sessionMiddleware` attached a
 * session. When an id was sent but rejected under `deferErrorPaths`, answers
 * with that reason instead (400 or 404).
 *
 * @example
 * app.post('/api/chat', requireSession(), express.json(), chat);
 */
export function requireSession(): RequestHandler {
  return function requireMorganSession(req, res, next) {
    const state: MorganRequestState | undefined = req.morgan;
    if (state?.session !== undefined) {
      next();
      return;
    }
    const error = state?.error;
    sendError(res, error ?? ErrorCode.SESSION_REQUIRED);
  };
}
