import type { Request, Response } from 'express';
import { ErrorCode } from '../errors.js';
import type { MorganRequestState } from '../express/request.js';
import type { SessionManager } from '../manager.js';
import { SESSION_HEADER } from '../protocol.js';
import type { Session } from '../session.js';
import { isSessionId } from '../session.js';
import { toTRPCError } from './init.js';

/** What every Morgan procedure sees in `ctx`. */
export interface SessionContext {
  manager: SessionManager;
  /** The caller's session, when it sent a valid, known id. */
  session?: Session | undefined;
  /** Why `session` is missing although an id was sent. */
  sessionError?: MorganRequestState['error'];
  /** `http` for Express requests, `ws` for WebSocket calls. */
  transport: 'http' | 'ws';
  /**
   * Set by transports that account for each call themselves (WebSocket:
   * request tracking on the session, node capacity, shutdown drain). Every
   * Morgan procedure runs through it.
   */
  runCall?: (<T>(call: () => Promise<T>) => Promise<T>) | undefined;
}

/**
 * Context for tRPC over Express. Reads the session that `sessionMiddleware`
 * attached (`req.morgan.session`), so no second store lookup happens; without the
 * middleware it resolves the `X-Session-Id` header itself.
 *
 * @example
 * app.use('/trpc', createExpressMiddleware({ router, createContext: createHttpContext(manager) }));
 */
export function createHttpContext(manager: SessionManager) {
  return async ({ req }: { req: Request; res: Response }): Promise<SessionContext> => {
    const state: MorganRequestState | undefined = req.morgan;
    if (state !== undefined) {
      if (state.rejection !== undefined) throw toTRPCError(state.rejection);
      return {
        manager,
        session: state.session,
        sessionError: state.error,
        transport: 'http',
      };
    }
    return resolveSessionContext(manager, req.header(SESSION_HEADER), 'http');
  };
}

/** Looks a session id up and builds the context; shared by HTTP and WebSocket. */
export async function resolveSessionContext(
  manager: SessionManager,
  sessionId: unknown,
  transport: SessionContext['transport'],
): Promise<SessionContext> {
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
