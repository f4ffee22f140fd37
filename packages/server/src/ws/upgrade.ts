import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type AllowedOrigins,
  compileAllowedOrigins,
  upgradeOriginAllowed,
} from '../cross-origin.js';
import { errorBody } from '../error-body.js';
import { ErrorCode, errorCodeInfo } from '../errors.js';
import { errorMessage } from '../protocol.js';

/** Decides on an upgrade request's `Origin`: true when the page may connect. */
export type UpgradeOriginCheck = (req: IncomingMessage) => boolean;

/**
 * Builds the upgrade's origin check once: no `Origin` (not a page) and a
 * same-origin page connect; another origin only when allowed.
 */
export function compileUpgradeOriginCheck(
  allowed: AllowedOrigins,
  host: (req: IncomingMessage) => string | undefined,
): UpgradeOriginCheck {
  const check = compileAllowedOrigins(allowed);
  return (req) => upgradeOriginAllowed(req.headers.origin, () => host(req), check);
}

/** The path of an upgrade request's URL, or undefined when it does not parse. */
export function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/** Refuses an upgrade with a JSON error body and drops the TCP socket. */
export function rejectUpgrade(
  socket: Duplex,
  code: ErrorCode,
  message: string = errorMessage(code),
): void {
  socket.on('error', () => {
    // The peer may already be gone; nothing to report.
  });
  const status = errorCodeInfo[code].httpStatus;
  const body = errorBody(code, message);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** What `upgradeListener` needs to decide on an upgrade. */
export interface UpgradeGate {
  server: Server;
  path: string;
  originAllowed: UpgradeOriginCheck;
  closing: () => boolean;
  /** Completes the handshake of an accepted request. */
  accept: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/**
 * The HTTP server's `upgrade` listener: other paths get 404 (unless another
 * listener is registered to serve them), then 503 while closing, 403 for an
 * page of another origin not allowed, and the rest is accepted.
 */
export function upgradeListener(gate: UpgradeGate) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(req.url) !== gate.path) {
      // Another listener may serve other paths (e.g. a dev server's HMR).
      if (gate.server.listenerCount('upgrade') > 1) return;
      rejectUpgrade(socket, ErrorCode.ROUTE_NOT_FOUND, 'No WebSocket endpoint at this path');
      return;
    }
    if (gate.closing()) {
      rejectUpgrade(socket, ErrorCode.SHUTTING_DOWN);
      return;
    }
    if (!gate.originAllowed(req)) {
      rejectUpgrade(socket, ErrorCode.FORBIDDEN_ORIGIN);
      return;
    }
    gate.accept(req, socket, head);
  };
}
