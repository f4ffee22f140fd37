import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { ErrorCode, MorganError, toMorganError } from '../errors.js';
import { redact, redactError } from '../redact.js';
import { sendError, sendMorganError } from './respond.js';

/** Options of `errorHandler`. */
export interface ErrorHandlerOptions {
  /**
   * Called with every error that becomes a 500 `INTERNAL_ERROR` (the client
   * sees only a generic message). @default logs the error to stderr
   */
  onInternalError?: (error: unknown, req: Request) => void;
}

export const errorHandlerDefaults = {
  onInternalError: (error: unknown, req: Request): void => {
    console.error(redact(`[morgan] ${req.method} ${req.path} failed: ${redactError(error)}`));
  },
} as const satisfies Required<ErrorHandlerOptions>;

/** Codes for the HTTP errors Express and body-parser raise (`http-errors` shape). */
const codeByStatus: Readonly<Record<number, ErrorCode>> = {
  400: ErrorCode.INVALID_REQUEST,
  404: ErrorCode.ROUTE_NOT_FOUND,
  405: ErrorCode.INVALID_REQUEST,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  415: ErrorCode.INVALID_REQUEST,
  429: ErrorCode.RATE_LIMITED,
  503: ErrorCode.STORE_UNAVAILABLE,
};

const messageByType: Readonly<Record<string, string>> = {
  'entity.parse.failed': 'Request body is not valid JSON',
  'entity.too.large': 'Request body is too large',
  'entity.verify.failed': 'Request body failed verification',
  'encoding.unsupported': 'Request body encoding is not supported',
  'charset.unsupported': 'Request body charset is not supported',
  'request.size.invalid': 'Request body size does not match Content-Length',
};

/**
 * Turns anything a route throws into a `MorganError`: Morgan errors keep their
 * code, client errors from Express and body-parser (malformed JSON, too large
 * a body, …) get the code matching their status, everything else becomes
 * `INTERNAL_ERROR`, whose message and stack never reach the client.
 */
export function toHttpError(error: unknown): MorganError {
  if (error instanceof MorganError) return error;
  const httpError = error as {
    status?: unknown;
    statusCode?: unknown;
    type?: unknown;
    expose?: unknown;
  };
  const status = Number(httpError?.status ?? httpError?.statusCode);
  const code = codeByStatus[status];
  if (code !== undefined && status < 500) {
    const message =
      messageByType[String(httpError.type)] ??
      (httpError.expose === true && error instanceof Error ? error.message : 'Bad request');
    return new MorganError(code, message, { cause: error });
  }
  return toMorganError(error);
}

/**
 * The last Express middleware: answers every error as JSON
 * `{"error":{"code","message"}}` with the status from the shared code table,
 * never an HTML page or a stack trace.
 *
 * @example
 * app.use(notFoundHandler());
 * app.use(errorHandler());
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  const { onInternalError } = { ...errorHandlerDefaults, ...options };
  return function morganErrorHandler(error: unknown, req, res, next) {
    const morganError = toHttpError(error);
    if (morganError.code === ErrorCode.INTERNAL_ERROR)
      onInternalError(morganError.cause ?? error, req);
    if (res.headersSent) {
      // Too late for a JSON answer; let Express close the connection.
      next(error);
      return;
    }
    sendMorganError(res, morganError);
  };
}

/**
 * Answers JSON 404 `ROUTE_NOT_FOUND` for any request no route handled.
 *
 * @example
 * app.use(notFoundHandler());
 */
export function notFoundHandler(): RequestHandler {
  return function morganNotFound(req, res) {
    sendError(res, ErrorCode.ROUTE_NOT_FOUND, `No route for ${req.method} ${req.path}`);
  };
}
