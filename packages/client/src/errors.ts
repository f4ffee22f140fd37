/**
 * Codes the client itself raises. Errors that come from the server keep the
 * server's stable code (`SESSION_NOT_FOUND`, `SERVER_AT_CAPACITY`, …).
 */
export const ClientErrorCode = {
  /** The server could not be reached (refused, reset, DNS, offline). */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** The client was closed while the operation was pending. */
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  /** The server refused the WebSocket's session parameters (close 4400). */
  SESSION_REJECTED: 'SESSION_REJECTED',
  /** `reconnect.maxAttempts` attempts failed in a row. */
  RECONNECT_FAILED: 'RECONNECT_FAILED',
  /** The server answered something the client could not read. */
  UNEXPECTED_RESPONSE: 'UNEXPECTED_RESPONSE',
} as const;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Fields of a {@link SessionClientError} besides its code and message. */
export interface SessionClientErrorDetails {
  cause?: unknown;
  /** HTTP status of the failed response, when there was one. */
  httpStatus?: number | undefined;
  /** WebSocket close code that ended the connection, when there was one. */
  closeCode?: number | undefined;
}

/**
 * What the client reports through `on('error')`, rejected promises and the
 * `reconnecting`/`closed` states. `code` is the server's stable code when the
 * server sent one, or a {@link ClientErrorCode}.
 */
export class SessionClientError extends Error {
  readonly code: string;
  readonly httpStatus: number | undefined;
  readonly closeCode: number | undefined;

  constructor(code: string, message: string, details: SessionClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SessionClientError';
    this.code = code;
    this.httpStatus = details.httpStatus;
    this.closeCode = details.closeCode;
  }
}

interface ErrorShapeLike {
  data?: { errorCode?: unknown; httpStatus?: unknown } | null;
  meta?: { response?: { status?: unknown }; responseJSON?: unknown } | undefined;
  shape?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** The error pending work of a closed client ends with (`CLIENT_CLOSED`). */
export function clientClosedError(): SessionClientError {
  return new SessionClientError(ClientErrorCode.CLIENT_CLOSED, 'The session client was closed');
}

/** The server's stable code carried by a tRPC error (`data.errorCode`), if any. */
export function serverErrorCode(error: unknown): string | undefined {
  if (error instanceof SessionClientError) return error.code;
  const shaped = error as ErrorShapeLike | null | undefined;
  const data = shaped?.data;
  if (typeof data?.errorCode === 'string') return data.errorCode;
  // A plain JSON error body (`{"error":{"code":"…"}}`), e.g. a 503 the
  // session middleware sent before tRPC saw the request.
  return plainBodyCode(shaped?.meta?.responseJSON);
}

/** The code of a plain `{"error":{"code":"…","message":"…"}}` body, if `body` is one. */
export function plainBodyCode(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | null | undefined)?.error?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The HTTP status behind a tRPC or fetch error, if any. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof SessionClientError) return error.httpStatus;
  const shaped = error as ErrorShapeLike | null | undefined;
  const fromData = shaped?.data?.httpStatus;
  if (typeof fromData === 'number') return fromData;
  const fromResponse = shaped?.meta?.response?.status;
  return typeof fromResponse === 'number' ? fromResponse : undefined;
}

/**
 * True when `error` means the server was not reached at all (as opposed to
 * an answer with an error status): fetch's `TypeError`, a refused or reset
 * connection, an aborted socket.
 */
export function isNetworkError(error: unknown): boolean {
  if (error instanceof SessionClientError) return error.code === ClientErrorCode.NETWORK_ERROR;
  if (httpStatusOf(error) !== undefined || serverErrorCode(error) !== undefined) return false;
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth += 1) {
    if (current instanceof TypeError) return true;
    const name = (current as { name?: unknown }).name;
    const code = (current as { code?: unknown }).code;
    if (name === 'TRPCWebSocketClosedError') return true;
    if (
      typeof code === 'string' &&
      /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|UND_ERR_)/.test(code)
    ) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * True when a request failed on a connection that broke under it (reset,
 * closed by the peer) rather than one that could not be opened: typically a
 * pooled keep-alive socket the server closed when it restarted. Sending the
 * request once more on a fresh connection is then the usual remedy (browsers
 * do it themselves; Node's fetch does not).
 */
export function isStaleConnectionError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)$/.test(code))
      return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Turns anything thrown by a call into a {@link SessionClientError}, keeping it as `cause`. */
export function toSessionClientError(error: unknown): SessionClientError {
  if (error instanceof SessionClientError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const httpStatus = httpStatusOf(error);
  const code =
    serverErrorCode(error) ??
    (isNetworkError(error) ? ClientErrorCode.NETWORK_ERROR : ClientErrorCode.UNEXPECTED_RESPONSE);
  return new SessionClientError(code, message, { cause: error, httpStatus });
}
