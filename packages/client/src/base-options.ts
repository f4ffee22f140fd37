// Option types that the client's parts share: below `options.ts`, which
// imports the opt-ins' types, so that no part imports upward.

/** A `fetch` function: the platform's, or any compatible one. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Something that fires `online` and `offline` events, like `window`. */
export interface OnlineEventSource {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
}

/** Retries of HTTP calls the server turned away with 503 or 429. */
export interface HttpRetryOptions {
  /**
   * Retries per call after the first try; 0 turns retries off.
   * @default 3
   */
  maxRetries: number;
  /**
   * Upper bound of the jitter added to `Retry-After` (or used alone when the
   * header is absent) for the first retry; doubles per retry.
   * @default 250
   */
  baseDelayMs: number;
  /**
   * Longest wait the client accepts; a `Retry-After` beyond it fails the call at once.
   * @default 10000
   */
  maxDelayMs: number;
  /**
   * HTTP statuses that are retried.
   * @default [503, 429]
   */
  statuses: readonly number[];
  /**
   * Mutation paths that are safe to send twice (e.g. `'cart.setQuantity'`),
   * for apps without `idempotencyKeys()`: with keys on, every mutation
   * is safe to resend (the server runs each key once). Queries are always
   * retried; other mutations only when called with
   * `{ context: { idempotent: true } }`.
   * @default []
   */
  idempotentPaths: readonly string[];
}

/** When `transport: 'auto'` gives up on the WebSocket, and how it tries again. */
export interface TransportFallbackOptions {
  /**
   * Sockets in a row that close before the server confirmed them (an
   * upgrade answered with an HTTP error, a socket that never opens or
   * closes at once) after which the client checks that HTTP works and, if
   * so, moves to SSE.
   * @default 2
   */
  failures: number;
  /**
   * How long a socket may stay neither confirmed nor closed (an upgrade
   * that hangs) before the client checks that HTTP works and, if so, moves
   * to SSE.
   * @default 10000
   */
  timeoutMs: number;
  /**
   * Mean delay between attempts to go back to the WebSocket while on SSE;
   * each is jittered between half and one and a half of it.
   * @default 30000
   */
  retryWebSocketMs: number;
}
