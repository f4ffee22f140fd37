import type { RequestHandler } from 'express';

/**
 * The demo pages' Content-Security-Policy: scripts, styles, fetches and
 * WebSockets from the page's own origin only (no inline script or style, no
 * `eval`), images also as `data:` URLs (the favicons), no plugins, no
 * `<base>`, forms posting only to the origin, and no page may frame ours
 * (`frame-ancestors 'none'`, against clickjacking of the dashboard's buttons).
 * `'self'` covers `ws:`/`wss:` to the same host (CSP Level 3).
 */
export const demoContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Options of `securityHeaders`. */
export interface SecurityHeadersOptions {
  /** The `Content-Security-Policy` header. @default demoContentSecurityPolicy */
  contentSecurityPolicy?: string;
}

/**
 * Sets the demo's security headers on every answer, pages and JSON alike:
 * `Content-Security-Policy`, `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer` (no URL of ours leaves in a `Referer`) and
 * `X-Frame-Options: DENY` (what `frame-ancestors` says, for older browsers).
 * Mount it first.
 *
 * @example
 * app.use(securityHeaders());
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): RequestHandler {
  const headers: Readonly<Record<string, string>> = {
    'Content-Security-Policy': options.contentSecurityPolicy ?? demoContentSecurityPolicy,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
  };
  return function securityHeadersHandler(_req, res, next) {
    for (const name in headers) res.setHeader(name, headers[name] as string);
    next();
  };
}
