import type { ErrorCode, MorganError } from '../errors.js';
import type { Session } from '../session.js';

/**
 * What `sessionMiddleware` records on each request, at `req.morgan`. Morgan
 * never reads or writes `req.session`: that name belongs to express-session,
 * cookie-session and Passport, which an app may use beside Morgan.
 */
export interface MorganRequestState {
  /**
   * The caller's session, a snapshot built when first read (from what the
   * store answered when the request arrived, with this request among its
   * `activeRequests`); undefined without `X-Session-Id`.
   */
  session?: Session | undefined;
  /** Why there is no session although an `X-Session-Id` was sent. */
  error?: typeof ErrorCode.INVALID_SESSION_ID | typeof ErrorCode.SESSION_NOT_FOUND | undefined;
  /** Id of the tracked request, while it is in flight. */
  requestId?: string | undefined;
  /**
   * Set on paths where the middleware defers its errors (tRPC): the request
   * was refused (e.g. `SERVER_AT_CAPACITY`, `STORE_UNAVAILABLE`) and tRPC
   * answers with this error, in its own envelope, without running a procedure.
   */
  rejection?: MorganError | undefined;
  /**
   * Turns an admitted request into a stream: it gives back its request slot
   * and takes a place in the stream budget instead (or is cut when the
   * budget is full). `trpcHandler` calls it when tRPC answers with an SSE
   * stream that was not asked for with `Accept: text/event-stream`.
   * @internal
   */
  toStream?: (() => void) | undefined;
}

declare global {
  namespace Express {
    interface Request {
      /**
       * Morgan's state of this request: `req.morgan.session` (undefined
       * without `X-Session-Id`) and `req.morgan.requestId`. Set by
       * `sessionMiddleware` on every request it sees.
       */
      morgan: MorganRequestState;
    }
  }
}
