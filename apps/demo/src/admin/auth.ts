import { createHash, timingSafeEqual } from 'node:crypto';
import { sendJsonText } from '@morgan/session-server/express';
import type { RequestHandler } from 'express';

/**
 * The demo's own error code (the library's table in `protocol.ts` is for the
 * library's errors): an admin call without the token, or with a wrong one.
 */
export const ADMIN_TOKEN_REQUIRED = 'ADMIN_TOKEN_REQUIRED';

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;
const unauthorized = JSON.stringify({
  error: {
    code: ADMIN_TOKEN_REQUIRED,
    message: 'The admin API needs the admin token: Authorization: Bearer <token>',
  },
});

/**
 * Lets through only requests with `Authorization: Bearer <token>`; any other
 * answers 401 `ADMIN_TOKEN_REQUIRED` with `WWW-Authenticate: Bearer`, before
 * a body is read. Missing and wrong tokens get the same answer, and the
 * comparison takes the same time whatever the guess (SHA-256 of both sides,
 * compared with `timingSafeEqual`, so the lengths match too).
 *
 * A header rather than a cookie: a browser never adds it on its own, so
 * another site cannot make a visitor's browser call the admin API (no CSRF).
 *
 * @example
 * routes.use(requireAdminToken(token));
 */
export function requireAdminToken(token: string): RequestHandler {
  const expected = digest(token);
  return function requireAdminTokenHandler(req, res, next) {
    const given = BEARER.exec(req.headers.authorization ?? '')?.[1];
    if (given !== undefined && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    sendJsonText(res, 401, unauthorized, {
      'WWW-Authenticate': 'Bearer realm="morgan-admin"',
    });
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
