/**
 * Cross-origin request protection, shared by the HTTP and WebSocket
 * adapters: the Fetch Metadata approach of OWASP's guidance and Go's
 * `net/http` `CrossOriginProtection`. Knows no transport: it reads a method,
 * a few headers and the host the request was sent to.
 */

import { ConfigError } from './errors.js';

/**
 * Decides whether a page of another origin (`https://app.example.com`) may
 * call this server. It is never asked about same-origin pages. Over
 * WebSocket it is also asked about an upgrade without an `Origin` (with
 * `undefined`: not a browser page), so it can turn such clients away; over
 * HTTP a request without browser headers always passes.
 */
export type OriginCheck = (origin: string | undefined) => boolean;

/**
 * Origins of other sites allowed to call this server from a browser: exact
 * origins (`scheme://host[:port]`, compared case-insensitively) or a
 * function deciding. Same-origin pages and clients that send no `Origin`
 * (servers, curl, the SDK in Node) never need to be listed.
 */
export type AllowedOrigins = readonly string[] | OriginCheck;

/**
 * Builds the check of an `allowedOrigins` setting once. A list allows its
 * origins and clients without an `Origin`; by default (no setting) only
 * clients without an `Origin` are allowed.
 */
export function compileAllowedOrigins(allowed: AllowedOrigins | undefined): OriginCheck {
  if (typeof allowed === 'function') return allowed;
  const origins = new Set((allowed ?? []).map((origin) => origin.toLowerCase()));
  return (origin) => origin === undefined || origins.has(origin.toLowerCase());
}

/**
 * True when `origin` (an `Origin` header) names the host the request was
 * sent to (`Host`, or the forwarded host behind a trusted proxy). Only the
 * host and port are compared, as Go does: behind a proxy that ends TLS the
 * scheme the browser used is not known. `null` (a sandboxed frame, a
 * privacy-sensitive redirect) and anything unparsable are never same-origin.
 */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || host === '') return false;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  const wanted = host.toLowerCase();
  if (parsed.host === wanted) return true;
  // `Host: example.com:443` from an https page whose origin omits the default port.
  const defaultPort = parsed.protocol === 'https:' ? '443' : '80';
  return parsed.port === '' && wanted === `${parsed.hostname}:${defaultPort}`;
}

/** Methods a browser may send across sites without asking; they must not change state. */
export function isSafeMethod(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** The request headers the HTTP check reads. */
export interface CrossOriginHeaders {
  origin?: string | undefined;
  'sec-fetch-site'?: string | string[] | undefined;
}

/**
 * Decides on an HTTP request: returns the refused origin (a string, `null`
 * when the browser sent none) for a cross-origin request with an unsafe
 * method, or `undefined` when the request may pass.
 *
 * - Safe methods (GET, HEAD, OPTIONS) pass.
 * - `Sec-Fetch-Site: same-origin` or `none` (typed in the address bar)
 *   passes; any other value (`same-site` too: a sibling subdomain is
 *   another origin) is refused unless the `Origin` is allowed.
 * - Without `Sec-Fetch-Site` (older browsers): no `Origin` passes (not a
 *   browser); an `Origin` naming the request's host passes; another is
 *   refused unless allowed.
 */
export function refusedOrigin(
  method: string | undefined,
  headers: CrossOriginHeaders,
  host: () => string | undefined,
  allowed: OriginCheck,
): string | null | undefined {
  if (isSafeMethod(method)) return undefined;
  const site = headers['sec-fetch-site'];
  const origin = headers.origin;
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return undefined;
    if (origin !== undefined && allowed(origin)) return undefined;
    return origin ?? null;
  }
  if (origin === undefined) return undefined;
  if (isSameOrigin(origin, host()) || allowed(origin)) return undefined;
  return origin;
}

/**
 * Decides on a WebSocket upgrade: browsers always send `Origin` with one,
 * so a request without it is not a page (it connects unless a function in
 * `allowedOrigins` says otherwise); a page connects when it is of the same
 * origin as the request's host, or allowed.
 */
export function upgradeOriginAllowed(
  origin: string | undefined,
  host: () => string | undefined,
  allowed: OriginCheck,
): boolean {
  if (origin === undefined) return allowed(undefined);
  return isSameOrigin(origin, host()) || allowed(origin);
}

/** Whether the proxy at `address`, `hop` hops from the server, is trusted (Express's `trust proxy fn`). */
export type TrustProxy = (address: string, hop: number) => boolean;

/** The headers `requestHost` reads. */
export interface HostHeaders {
  host?: string | undefined;
  'x-forwarded-host'?: string | string[] | undefined;
}

/**
 * The host a request was sent to, as Express's `req.host` finds it:
 * `X-Forwarded-Host` (its first value) when the peer is a trusted proxy,
 * else `Host`.
 */
export function requestHost(
  headers: HostHeaders,
  remoteAddress: string | undefined,
  trust: TrustProxy | undefined,
): string | undefined {
  const forwarded = headers['x-forwarded-host'];
  if (forwarded && trust?.(remoteAddress ?? '', 0)) {
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first !== undefined && first !== '') return first;
  }
  return headers.host;
}

/** The message of a refusal: which origin, and how to allow it. */
export function crossOriginMessage(origin: string | null): string {
  const who = origin === null ? 'a page of another origin' : origin;
  return (
    `Cross-site request refused: ${who} is not allowed to call this server. ` +
    'If this origin is yours, list it in allowedOrigins (SessionManager option or MORGAN_ALLOWED_ORIGINS)'
  );
}

/**
 * Checks an `allowedOrigins` list: each entry an origin as browsers send it
 * (`https://app.example.com`, `http://localhost:5173`): http or https, no
 * path, query or credentials. A function is taken as it is.
 *
 * @throws ConfigError naming `name` and the first bad entry.
 */
export function checkAllowedOrigins(
  allowed: AllowedOrigins,
  name = 'allowedOrigins',
): AllowedOrigins {
  if (typeof allowed === 'function') return allowed;
  if (!Array.isArray(allowed)) {
    throw new ConfigError(name, allowed, 'a list of origins or a function');
  }
  for (const entry of allowed) {
    if (!isOrigin(entry)) {
      throw new ConfigError(name, entry, 'origins such as https://app.example.com (no path)');
    }
  }
  return Object.freeze([...allowed]);
}

/** `MORGAN_ALLOWED_ORIGINS`: a comma-separated list of origins. */
export function parseAllowedOrigins(text: string, name = 'MORGAN_ALLOWED_ORIGINS'): string[] {
  const list = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  checkAllowedOrigins(list, name);
  return list;
}

function isOrigin(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.origin.toLowerCase() === value.toLowerCase().replace(/\/$/, '')
    );
  } catch {
    return false;
  }
}
