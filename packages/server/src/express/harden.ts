import { type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../errors.js';
import { errorBody } from './respond.js';

/** Options of `hardenServer`. */
export interface HardenServerOptions {
  /** Time a client has to send all request headers, in ms; then 408 and the socket is closed. @default 10_000 */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request (headers and body), in ms; then 408. @default 30_000 */
  requestTimeoutMs?: number;
  /** Time an idle keep-alive socket stays open after a response, in ms. @default 5_000 */
  keepAliveTimeoutMs?: number;
  /** Most request headers read per request (the rest are dropped). @default 100 */
  maxHeadersCount?: number;
  /** Requests one socket may carry before the server closes it (0: no limit). @default 1_000 */
  maxRequestsPerSocket?: number;
}

export const hardenServerDefaults = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeadersCount: 100,
  maxRequestsPerSocket: 1_000,
} as const satisfies Required<HardenServerOptions>;

/**
 * Sets an HTTP server's limits against slow and greedy clients (slowloris,
 * endless keep-alive, header floods), so that connections a client opens and
 * never finishes are closed instead of piling up. Long-lived responses
 * (SSE streams, WebSocket upgrades) are not cut: the timeouts bound only the
 * time to *send* a request. The header size is a `createServer` option
 * (`maxHeaderSize`, Node's default 16 KiB), and how often Node checks these
 * timeouts is too (`connectionsCheckingInterval`, default 30 s).
 *
 * What Node's HTTP parser refuses before any route sees it (headers over
 * `maxHeaderSize`, a malformed request line, a timeout) is answered with
 * the same JSON error body as every other error (431, 400, 408), not
 * Node's bare status line.
 *
 * @example
 * const server = app.listen(3000);
 * hardenServer(server);
 */
export function hardenServer(server: Server, options: HardenServerOptions = {}): Server {
  const settings = { ...hardenServerDefaults, ...definedOnly(options) };
  server.headersTimeout = settings.headersTimeoutMs;
  server.requestTimeout = settings.requestTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
  server.maxHeadersCount = settings.maxHeadersCount;
  server.maxRequestsPerSocket = settings.maxRequestsPerSocket;
  server.on('clientError', answerClientError);
  return server;
}

/** Answers a request Node's parser refused with a JSON error body, then closes the socket. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT'
        ? [408, 'The request was not received in time']
        : [400, 'Malformed HTTP request'];
  const body = errorBody(ErrorCode.INVALID_REQUEST, message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
