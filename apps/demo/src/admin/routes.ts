import {
  ErrorCode,
  isSessionId,
  MorganError,
  type Session,
  type SessionManager,
} from '@morgan/session-server';
import { sendError, sendJson } from '@morgan/session-server/express';
import express, { type Response, type Router } from 'express';
import { requireAdminToken } from './auth.js';
import { SessionHandles } from './handles.js';
import type { OverloadSimulator } from './overload.js';
import type { LoadSampler } from './sampler.js';
import { shortSessionId } from './short-id.js';
import type { AdminSessionRow, AdminState, WebSocketTotals } from './types.js';

/** Options of `adminRoutes`. */
export interface AdminRoutesOptions {
  manager: SessionManager;
  sampler: LoadSampler;
  overload: OverloadSimulator;
  /** Every call must carry `Authorization: Bearer <token>` (at least 16 characters). */
  token: string;
  /** Turns listed sessions into handles and back. @default a new `SessionHandles` */
  handles?: SessionHandles;
  /** Most sessions listed in one state report. @default 200 */
  listLimit?: number;
  /** Shown in the dashboard's header to tell nodes apart. @default `pid <pid>` */
  nodeName?: string;
  /** This node's WebSocket figures (from `attachWebSocket`). @default undefined (none shown) */
  webSockets?: () => WebSocketTotals;
}

export const adminRoutesDefaults = { listLimit: 200 } as const;

/**
 * The dashboard's JSON API under `/api/admin`, every route behind the admin
 * token (`Authorization: Bearer <token>`, else 401 `ADMIN_TOKEN_REQUIRED`):
 * - `GET /state`: totals, sessions, overload state and the chart's samples;
 *   sessions carry a shortened id and a `handle`, never the id itself;
 * - `DELETE /sessions/:session`: ends a session at once (its sockets close
 *   with 4404 and the tab moves to a new session);
 * - `POST /sessions/:session/rotate`: gives the session a new id
 *   (`rotateSession`); its tab follows without losing events;
 * - `DELETE /users/:userId/sessions`: ends every session of a user ("log out
 *   everywhere");
 * - `PUT /overload` `{enabled, freeSlots?, replyDelayMs?}`: toggles the
 *   simulated overload.
 *
 * `:session` is a row's `handle` from `GET /state` on this node, or a full
 * session id (for an operator who has one, e.g. from a user's report). Answers
 * name sessions by their shortened id and handle only.
 *
 * Mount it before `sessionMiddleware` so the dashboard keeps working while
 * the node sheds load.
 *
 * @example
 * app.use('/api/admin', adminRoutes({ manager, sampler, overload, token }));
 */
export function adminRoutes(options: AdminRoutesOptions): Router {
  const { manager, sampler, overload } = options;
  const handles = options.handles ?? new SessionHandles();
  const listLimit = options.listLimit ?? adminRoutesDefaults.listLimit;
  const nodeName = options.nodeName ?? `pid ${process.pid}`;
  const startedAt = Date.now();
  const routes = express.Router();
  // First, so that nothing (not even a body parser) runs for a caller without the token.
  routes.use(requireAdminToken(options.token));

  /** The session a `:session` parameter names; answers 400 itself when it names none. */
  const sessionOf = (param: string | undefined, res: Response): string | undefined => {
    const sessionId =
      param === undefined || isSessionId(param) ? param : handles.sessionIdOf(param);
    if (sessionId !== undefined && isSessionId(sessionId)) return sessionId;
    sendError(
      res,
      ErrorCode.INVALID_SESSION_ID,
      'Expected a session id, or a handle from GET /api/admin/state on this node',
    );
    return undefined;
  };

  routes.get('/state', async (_req, res, next) => {
    try {
      sendJson(res, 200, await state());
    } catch (error) {
      next(error);
    }
  });

  routes.delete('/sessions/:session', async (req, res, next) => {
    const sessionId = sessionOf(req.params.session, res);
    if (sessionId === undefined) return;
    try {
      const deleted = await manager.deleteSession(sessionId);
      if (deleted) sendJson(res, 200, { deleted: true, shortId: shortSessionId(sessionId) });
      else sendError(res, ErrorCode.SESSION_NOT_FOUND);
    } catch (error) {
      next(error);
    }
  });

  routes.post('/sessions/:session/rotate', async (req, res, next) => {
    const sessionId = sessionOf(req.params.session, res);
    if (sessionId === undefined) return;
    try {
      const { sessionId: newId } = await manager.rotateSession(sessionId);
      sendJson(res, 200, {
        rotated: true,
        shortId: shortSessionId(newId),
        handle: handles.handleOf(newId),
      });
    } catch (error) {
      next(error);
    }
  });

  routes.delete('/users/:userId/sessions', async (req, res, next) => {
    try {
      sendJson(res, 200, { deleted: await manager.deleteSessionsByUser(req.params.userId) });
    } catch (error) {
      next(error);
    }
  });

  routes.put('/overload', express.json({ limit: '1kb' }), (req, res) => {
    const body: unknown = req.body;
    const input =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const { enabled, freeSlots, replyDelayMs } = input;
    const validNumber = (value: unknown) =>
      value === undefined || (typeof value === 'number' && Number.isFinite(value) && value >= 0);
    if (typeof enabled !== 'boolean' || !validNumber(freeSlots) || !validNumber(replyDelayMs)) {
      sendError(
        res,
        ErrorCode.INVALID_REQUEST,
        'Expected {"enabled": boolean, "freeSlots"?: number, "replyDelayMs"?: number}',
      );
      return;
    }
    const settings: { freeSlots?: number; replyDelayMs?: number } = {};
    if (typeof freeSlots === 'number') settings.freeSlots = freeSlots;
    if (typeof replyDelayMs === 'number') settings.replyDelayMs = replyDelayMs;
    sendJson(res, 200, overload.set(enabled, settings));
  });

  async function state(): Promise<AdminState> {
    const now = Date.now();
    const metrics = await manager.getMetrics();
    let sessions: Session[] = [];
    let listError: string | null = null;
    try {
      sessions = await manager.listSessions(listLimit + 1);
    } catch (error) {
      // A Morgan error's message is written for users; a driver's may carry internals.
      listError =
        error instanceof MorganError ? error.message : 'The store could not list sessions';
    }
    const truncated = sessions.length > listLimit;
    const rows = sessions.slice(0, listLimit).map((session) => row(session, handles, now));
    return {
      now,
      node: {
        name: nodeName,
        pid: process.pid,
        store: manager.store.name,
        uptimeSeconds: Math.round((now - startedAt) / 1000),
      },
      totals: {
        activeSessions: metrics.activeSessions,
        created: metrics.totalSessionsCreated,
        deleted: metrics.totalSessionsDeleted,
        expired: metrics.totalSessionsExpired,
        inFlightRequests: Math.max(0, metrics.inFlightRequests - overload.heldSlots),
        activeRequests: metrics.activeRequests,
        maxConcurrentRequests: metrics.maxConcurrentRequests,
        capacityLimit: metrics.capacityLimit,
        capacityMode: manager.capacity.mode,
        shed: metrics.totalRequestsShed,
        connections: rows.reduce((sum, r) => sum + r.connectionCount, 0),
      },
      overload: overload.state(),
      webSockets: options.webSockets?.() ?? null,
      sessions: rows,
      truncated,
      listError,
      series: {
        intervalMs: sampler.intervalMs,
        windowMs: sampler.windowMs,
        samples: sampler.samples(),
      },
    };
  }

  return routes;
}

function row(session: Session, handles: SessionHandles, now: number): AdminSessionRow {
  const createdAt = session.createdAt.getTime();
  const lastActivity = session.lastActivity.getTime();
  return {
    shortId: shortSessionId(session.sessionId),
    handle: handles.handleOf(session.sessionId),
    userId: session.userId ?? null,
    conversationId: session.conversationId ?? null,
    createdAt,
    lastActivity,
    ageMs: Math.max(0, now - createdAt),
    idleMs: Math.max(0, now - lastActivity),
    connectionCount: session.connectionCount,
    activeRequests: session.activeRequests.length,
  };
}
