import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { ErrorCode } from '../errors.js';
import type { SessionManager } from '../manager.js';
import type { StoreFallback } from '../store/capabilities.js';
import { MorganMetrics } from './metrics.js';
import { errorBody, sendJson, sendJsonText } from './respond.js';

/** Options of `healthRoutes`. */
export interface HealthRoutesOptions {
  /** Path of the liveness report. @default '/health' */
  healthPath?: string;
  /** Path of the readiness probe. @default '/ready' */
  readyPath?: string;
  /** Path of the Prometheus scrape; `false` leaves it out. @default '/metrics' */
  metricsPath?: string | false;
  /**
   * True while the node drains (shutdown started): `/ready` then answers 503.
   * @default () => manager.stopping
   */
  isDraining?: () => boolean;
  /** Longest wait for `store.ping()` (readiness) and the session count (health), in ms. @default 1000 */
  storeTimeoutMs?: number;
  /** Metrics to serve at `metricsPath`. @default new MorganMetrics(manager) */
  metrics?: MorganMetrics;
}

export const healthRoutesDefaults = {
  healthPath: '/health',
  readyPath: '/ready',
  metricsPath: '/metrics',
  storeTimeoutMs: 1000,
} as const satisfies Omit<Required<HealthRoutesOptions>, 'isDraining' | 'metrics'>;

/** Body of `GET /health`. */
export interface HealthReport {
  /** `ok`; `draining` once shutdown started; `degraded` when the store does not answer. */
  status: 'ok' | 'draining' | 'degraded';
  /** Live sessions; null when the store did not answer in time. */
  activeSessions: number | null;
  /** Requests tracked on sessions of this node now. */
  activeRequests: number;
  uptimeSeconds: number;
  /** Name of the store (`memory`, `redis`). */
  store: string;
  /**
   * Optional capabilities the store lacks, which this node runs on its own
   * (`idempotency`, `rateLimits`, `listing`, `events`; see docs/stores.md);
   * empty for `memory` and `redis`.
   */
  storeFallbacks: readonly StoreFallback[];
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * `GET /health` (liveness, always 200 with figures), `GET /ready` (200, or 503
 * while draining or while the store does not answer `ping()` in time) and
 * `GET /metrics` (Prometheus text). Keep these paths in the session
 * middleware's `exemptPaths` (the default) so they answer at capacity.
 *
 * @example
 * app.use(healthRoutes(manager, { isDraining: () => shutdown.draining }));
 */
export function healthRoutes(
  manager: SessionManager,
  options: HealthRoutesOptions = {},
): RequestHandler {
  const settings = { ...healthRoutesDefaults, ...options };
  const isDraining = options.isDraining ?? (() => manager.stopping);
  const startedAt = performance.now();
  const handlers = new Map<string, Handler>();

  handlers.set(settings.healthPath, async (_req, res) => {
    const draining = isDraining();
    let activeSessions: number | null = null;
    try {
      activeSessions = await withTimeout(manager.getActiveSessionCount(), settings.storeTimeoutMs);
    } catch {
      // reported as `degraded` below; liveness does not depend on the store
    }
    const report: HealthReport = {
      status: draining ? 'draining' : activeSessions === null ? 'degraded' : 'ok',
      activeSessions,
      activeRequests: manager.activeRequestCount,
      uptimeSeconds: Math.round((performance.now() - startedAt) / 1000),
      store: manager.store.name,
      storeFallbacks: manager.storeFallbacks,
    };
    sendJson(res, 200, report);
  });

  handlers.set(settings.readyPath, async (_req, res) => {
    if (isDraining()) {
      sendNotReady(res, 'draining', ErrorCode.SHUTTING_DOWN);
      return;
    }
    try {
      await withTimeout(manager.store.ping(), settings.storeTimeoutMs);
    } catch {
      sendNotReady(
        res,
        'store-unavailable',
        ErrorCode.STORE_UNAVAILABLE,
        'Session store is unavailable',
      );
      return;
    }
    sendJson(res, 200, { status: 'ready' });
  });

  if (settings.metricsPath !== false) {
    const metrics = options.metrics ?? new MorganMetrics(manager);
    handlers.set(settings.metricsPath, async (_req, res) => {
      const text = await metrics.render();
      res.statusCode = 200;
      res.setHeader('Content-Type', metrics.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.end(text);
    });
  }

  return function morganHealth(req, res, next) {
    const handler = handlers.get(req.path);
    if (handler === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      next();
      return;
    }
    handler(req, res).catch(next);
  };
}

function sendNotReady(
  res: ServerResponse,
  status: string,
  code: ErrorCode,
  message?: string,
): void {
  const body = errorBody(code, message);
  sendJsonText(res, 503, `{"status":${JSON.stringify(status)},${body.slice(1)}`, {
    'Retry-After': '1',
  });
}

/** Rejects when `promise` does not settle within `timeoutMs`. */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`No answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
