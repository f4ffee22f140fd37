import type { Request, Response } from 'express';
import {
  type AllowedOrigins,
  compileAllowedOrigins,
  crossOriginMessage,
  refusedOrigin,
  requestHost,
} from '../cross-origin.js';
import { ErrorCode } from '../errors.js';
import { trustOf } from './client-address.js';
import { sendError } from './respond.js';

/**
 * Builds the HTTP side of cross-origin protection once: the returned guard
 * answers 403 `CROSS_SITE_REQUEST` to an unsafe request that a browser
 * marks as coming from an origin not allowed, and returns true; otherwise it
 * answers nothing and returns false. The request's host follows the app's
 * `trust proxy` setting, as `req.host` does.
 */
export function crossSiteGuard(
  allowedOrigins: AllowedOrigins,
): (req: Request, res: Response) => boolean {
  const allowed = compileAllowedOrigins(allowedOrigins);
  return function refuseCrossSite(req, res) {
    const method = req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return false;
    const host = () => requestHost(req.headers, req.socket.remoteAddress, trustOf(req.app));
    const origin = refusedOrigin(method, req.headers, host, allowed);
    if (origin === undefined) return false;
    sendError(res, ErrorCode.CROSS_SITE_REQUEST, crossOriginMessage(origin));
    return true;
  };
}
