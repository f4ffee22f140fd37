import type { ErrorCode, MorganError } from '../errors.js';
import type { Session } from '../session.js';

/** What `sessionMiddleware` records on each request. */
export interface MorganRequestState {
  /** The session snapshot taken when the request arrived. */
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
}

declare global {
  namespace Express {
    interface Request {
      /** The caller's session; undefined when no `X-Session-Id` was sent. */
      session?: Session | undefined;
      /** Morgan's per-request state, read by the tRPC context. */
      morgan?: MorganRequestState | undefined;
    }
  }
}
