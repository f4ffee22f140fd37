import { ErrorCode, isSessionId, type Session, type SessionManager } from '@morgan/session-server';
import { sendError, sendJson } from '@morgan/session-server/express';
import express, { type Router } from 'express';
import type { OverloadSimulator } from './overload.js';
import type { LoadSampler } from './sampler.js';
import type { AdminSessionRow, AdminState } from './types.js';

/** Options of `adminRoutes`. */
export interface AdminRoutesOptions {
  manager: SessionManager;
  sampler: LoadSampler;
  overload: OverloadSimulator;
  /** Most sessions listed in one state report. @default 200 */
  listLimit?: number;
  /** Shown in the dashboard's header to tell nodes apart. @default `pid <pid>` */
  nodeName?: string;
}

export const adminRoutesDefaults = { listLimit: 200 } as const;

/**
 * The dashboard's JSON API under `/api/admin`:
 * - `GET /state`: totals, sessions, overload state and the chart's samples;
 * - `DELETE /sessions/:sessionId`: ends a session at once (its sockets close
 *   with 4404 and the tab moves to a new session);
 * - `POST /sessions/:sessionId/rotate`: gives the session a new id
 *   (`rotateSession`); its tab follows without losing events;
 * - `DELETE /users/:userId/sessions`: ends every session of a user ("log out
 *   everywhere");
 * - `PUT /overload` `{enabled, freeSlots?, replyDelayMs?}`: toggles the
 *   simulated overload.
 *
 * Mount it before `sessionMiddleware` so the dashboard keeps working while
 * the node sheds load. It has no authentication: it is a local demo.
 *
 * @example
 * app.use('/api/admin', adminRoutes({ manager, sampler, overload }));
 */
export function adminRoutes(options: AdminRoutesOptions): Router {
  const { manager, sampler, overload } = options;
  const listLimit = options.listLimit ?? adminRoutesDefaults.listLimit;
  const nodeName = options.nodeName ?? `pid ${process.pid}`;
  const startedAt = Date.now();
  const routes = express.Router();

  routes.get('/state', async (_req, res, next) => {
    try {
      sendJson(res, 200, await state());
    } catch (error) {
      next(error);
    }
  });

  routes.delete('/sessions/:sessionId', async (req, res, next) => {
    const { sessionId } = req.params;
    if (!isSessionId(sessionId)) {
      sendError(res, ErrorCode.INVALID_SESSION_ID);
      return;
    }
    try {
      const deleted = await manager.deleteSession(sessionId);
      if (deleted) sendJson(res, 200, { deleted: true, sessionId });
      else sendError(res, ErrorCode.SESSION_NOT_FOUND);
    } catch (error) {
      next(error);
    }
  });

  routes.post('/sessions/:sessionId/rotate', async (req, res, next) => {
    const { sessionId } = req.params;
    if (!isSessionId(sessionId)) {
      sendError(res, ErrorCode.INVALID_SESSION_ID);
      return;
    }
    try {
      const session = await manager.rotateSession(sessionId);
      sendJson(res, 200, { rotated: true, sessionId: session.sessionId });
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
      listError = error instanceof Error ? error.message : String(error);
    }
    const truncated = sessions.length > listLimit;
    const rows = sessions.slice(0, listLimit).map((session) => row(session, now));
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
        shed: metrics.totalRequestsShed,
        connections: rows.reduce((sum, r) => sum + r.connectionCount, 0),
      },
      overload: overload.state(),
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

function row(session: Session, now: number): AdminSessionRow {
  const createdAt = session.createdAt.getTime();
  const lastActivity = session.lastActivity.getTime();
  return {
    sessionId: session.sessionId,
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
