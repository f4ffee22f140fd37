import type { ErrorCode } from '../errors.js';
import type { Session } from '../session.js';

/** What `sessionMiddleware` records on each request. */
export interface MorganRequestState {
  /** The session snapshot taken when the request arrived. */
  session?: Session | undefined;
  /** Why there is no session although an `X-Session-Id` was sent. */
  error?: typeof ErrorCode.INVALID_SESSION_ID | typeof ErrorCode.SESSION_NOT_FOUND | undefined;
  /** Id of the tracked request, while it is in flight. */
  requestId?: string | undefined;
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
