import type { SessionManager } from '@morgan/session-server';
import type { Router } from 'express';
import { type OverloadOptions, OverloadSimulator } from './overload.js';
import { type AdminRoutesOptions, adminRoutes } from './routes.js';
import { LoadSampler, type LoadSamplerOptions } from './sampler.js';
import { adminTokenProblem, generateAdminToken } from './token.js';

export { ADMIN_TOKEN_REQUIRED, requireAdminToken } from './auth.js';
export { SessionHandles } from './handles.js';
export { type OverloadOptions, OverloadSimulator, overloadDefaults } from './overload.js';
export { adminRoutes } from './routes.js';
export { LoadSampler, loadSamplerDefaults } from './sampler.js';
export { shortSessionId } from './short-id.js';
export {
  ADMIN_TOKEN_MIN_LENGTH,
  ADMIN_TOKEN_VARIABLE,
  type AdminTokenSource,
  adminTokenFromEnv,
  generateAdminToken,
} from './token.js';
export type {
  AdminSessionRow,
  AdminState,
  LoadSample,
  OverloadState,
  WebSocketTotals,
} from './types.js';

/** Options of `createAdmin`. */
export interface AdminOptions {
  /**
   * The token every admin call carries (`Authorization: Bearer <token>`): 16
   * to 256 visible ASCII characters. Read it back from `Admin.token`.
   * @default a random one (`generateAdminToken()`)
   */
  token?: string;
  overload?: OverloadOptions;
  sampler?: Omit<LoadSamplerOptions, 'phantomSlots' | 'onTick'>;
  /** Most sessions listed at once. @default 200 */
  listLimit?: number;
  /** Shown in the dashboard header. @default `pid <pid>` */
  nodeName?: string;
  /** This node's WebSocket figures, for "sockets per browser". @default undefined (none shown) */
  webSockets?: AdminRoutesOptions['webSockets'];
}

/** The dashboard's server side: routes, load sampler and overload simulation. */
export interface Admin {
  /** Mount at `/api/admin`, before `sessionMiddleware`. */
  readonly routes: Router;
  /** The admin token the routes require. */
  readonly token: string;
  readonly overload: OverloadSimulator;
  readonly sampler: LoadSampler;
  /** Stops sampling and releases simulated load. */
  close(): void;
}

/**
 * Wires the admin dashboard's server side for one node.
 *
 * @throws TypeError when `token` is too short or has spaces.
 * @example
 * const admin = createAdmin(manager, { token: process.env.MORGAN_ADMIN_TOKEN });
 * app.use('/api/admin', admin.routes);
 * app.post('/api/chat', async (req, res) => { await admin.overload.delay(); … });
 */
export function createAdmin(manager: SessionManager, options: AdminOptions = {}): Admin {
  const token = options.token ?? generateAdminToken();
  const problem = adminTokenProblem(token);
  if (problem !== undefined) throw new TypeError(`The admin token must be ${problem}`);
  const overload = new OverloadSimulator(manager.capacity, options.overload);
  const sampler = new LoadSampler(manager, {
    ...options.sampler,
    phantomSlots: () => overload.heldSlots,
    onTick: () => overload.topUp(),
  }).start();
  const routeOptions: Parameters<typeof adminRoutes>[0] = { manager, sampler, overload, token };
  if (options.listLimit !== undefined) routeOptions.listLimit = options.listLimit;
  if (options.nodeName !== undefined) routeOptions.nodeName = options.nodeName;
  if (options.webSockets !== undefined) routeOptions.webSockets = options.webSockets;
  return {
    routes: adminRoutes(routeOptions),
    token,
    overload,
    sampler,
    close() {
      sampler.stop();
      overload.close();
    },
  };
}
