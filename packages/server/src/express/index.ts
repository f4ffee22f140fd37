/**
 * The Express adapter: `sessionMiddleware` (the session at `req.morgan`, load
 * shedding), `requireSession`, `trpcHandler` (tRPC over HTTP), `healthRoutes`
 * (`/health`, `/ready`, `/metrics`), JSON error handlers and `createShutdown`.
 *
 * @module \@morgan/session-server/express
 */

export { clientAddressOf, requestHostOf } from './client-address.js';
export {
  type ErrorHandlerOptions,
  errorHandler,
  errorHandlerDefaults,
  notFoundHandler,
  toHttpError,
} from './error-handler.js';
export { type HardenServerOptions, hardenServer, hardenServerDefaults } from './harden.js';
export {
  type HealthReport,
  type HealthRoutesOptions,
  healthRoutes,
  healthRoutesDefaults,
} from './health.js';
export { MorganMetrics, type MorganMetricsOptions, morganMetricsDefaults } from './metrics.js';
export type { MorganRequestState } from './request.js';
export { errorBody, sendError, sendJson, sendJsonText, sendMorganError } from './respond.js';
export {
  requireSession,
  type SessionMiddlewareOptions,
  sessionMiddleware,
  sessionMiddlewareDefaults,
} from './session-middleware.js';
export {
  createShutdown,
  type Shutdown,
  type ShutdownHook,
  type ShutdownOptions,
  shutdownDefaults,
} from './shutdown.js';
export { type TrpcHandlerOptions, trpcHandler, trpcHandlerDefaults } from './trpc.js';
