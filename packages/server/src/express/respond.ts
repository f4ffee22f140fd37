import type { ServerResponse } from 'node:http';
import { errorBody } from '../error-body.js';
import {
  ErrorCode,
  errorCodeInfo,
  type MorganError,
  RateLimitedError,
  type RateLimitState,
} from '../errors.js';
import { errorMessage } from '../protocol.js';

export { errorBody };

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Answers with the error's status (from the shared code table) and its JSON
 * body. Works on a bare `ServerResponse`, so it costs no Express machinery.
 *
 * @example
 * sendError(res, ErrorCode.SESSION_REQUIRED); // the code's default message
 */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string = errorMessage(code),
  headers?: Readonly<Record<string, string>>,
): void {
  sendJsonText(res, errorCodeInfo[code].httpStatus, errorBody(code, message), headers);
}

/**
 * `sendError` for a `MorganError`. A 503 (capacity, shutdown, store outage)
 * carries `Retry-After`: the error's `retryAfterSeconds` when it has one, else 1.
 */
export function sendMorganError(res: ServerResponse, error: MorganError): void {
  const headers = retryAfterHeaders(error);
  sendError(res, error.code, error.message, headers);
}

/**
 * `{ 'Retry-After': seconds }` for an error answered with 503 or 429 (or
 * 409 `REQUEST_IN_PROGRESS`), plus
 * the IETF `RateLimit` and `RateLimit-Policy` headers when a rate limit
 * refused; otherwise undefined.
 */
export function retryAfterHeaders(error: MorganError): Record<string, string> | undefined {
  const status = errorCodeInfo[error.code].httpStatus;
  if (status !== 503 && status !== 429 && error.code !== ErrorCode.REQUEST_IN_PROGRESS) {
    return undefined;
  }
  const seconds = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  const headers: Record<string, string> = {
    'Retry-After': String(typeof seconds === 'number' ? seconds : 1),
  };
  if (error instanceof RateLimitedError && error.rateLimit !== undefined) {
    Object.assign(headers, rateLimitHeaders(error.rateLimit));
  }
  return headers;
}

/** The IETF `RateLimit` and `RateLimit-Policy` headers of a rate limit's state. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const { name, limit, remaining, resetMs, windowMs } = state;
  return {
    RateLimit: `"${name}";r=${remaining};t=${Math.ceil(resetMs / 1000)}`,
    'RateLimit-Policy': `"${name}";q=${limit};w=${Math.round(windowMs / 1000)}`,
  };
}

/** Sends already serialised JSON with a status. */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  text: string,
  headers?: Readonly<Record<string, string>>,
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  if (headers !== undefined) {
    for (const name in headers) res.setHeader(name, headers[name] as string);
  }
  res.end(text);
}

/**
 * Prepares a fixed JSON answer once (body bytes, header list) so that sending
 * it allocates next to nothing: for answers sent under load, such as 503s.
 * Headers set earlier with `setHeader` (e.g. CORS) are kept.
 */
export function prepareJsonResponse(
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): (res: ServerResponse) => void {
  const body = Buffer.from(text, 'utf8');
  const raw: string[] = ['Content-Type', JSON_TYPE, 'Cache-Control', 'no-store'];
  for (const name in headers) raw.push(name, headers[name] as string);
  raw.push('Content-Length', String(body.length));
  return (res) => {
    res.writeHead(status, raw);
    res.end(body);
  };
}

/** Sends a value as JSON with a status. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendJsonText(res, status, JSON.stringify(value));
}
