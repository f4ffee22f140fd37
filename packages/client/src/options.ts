import { type BackoffOptions, backoffDefaults } from './backoff.js';
import { type JsonObject, RETRYABLE_STATUSES } from './protocol.js';
import type { LockManagerLike } from './shared/locks.js';
import type { BroadcastChannelConstructor } from './shared/messages.js';
import type { StorageOption } from './storage.js';

/**
 * A WebSocket constructor: the browser's, or `WebSocket` from the `ws`
 * package in Node 20 (which has no global one).
 */
export type WebSocketLike = abstract new (url: string, protocols?: string | string[]) => unknown;

/** A `fetch` function: the platform's, or any compatible one. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Something that fires `online` and `offline` events, like `window`. */
export interface OnlineEventSource {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
}

/** Reconnect policy of the WebSocket, and of `connect()` while the server is unreachable. */
export interface ReconnectOptions extends BackoffOptions {
  /**
   * Attempts in a row before the client gives up and closes with `RECONNECT_FAILED`.
   * @default Infinity
   */
  maxAttempts: number;
  /**
   * Replaces the delay function (exponential backoff with full jitter over
   * `baseDelayMs`, `factor`, `maxDelayMs`). `attempt` is 0 for the first retry.
   * @default undefined (use {@link fullJitterBackoff})
   */
  delayMs?: ((attempt: number) => number) | undefined;
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
   * for apps that turn `idempotencyKeys` off: with keys on, every mutation
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

/** Options of `createSessionClient`. */
export interface SessionClientOptions {
  /**
   * The server's base URL, e.g. `'http://localhost:3000'`; in a browser it
   * may be relative to the page (`'/'`). tRPC lives under `trpcPath`, and the
   * WebSocket uses the same address with `ws:`/`wss:`.
   */
  url: string;
  /**
   * Path of the tRPC endpoint (HTTP and WebSocket).
   * @default '/trpc'
   */
  trpcPath?: string;
  /**
   * Where the session id is kept: `'session'` (per tab), `'local'` (shared by
   * the tabs of the origin), `'memory'`, or a Storage-like object.
   * @default 'session' in browsers, 'memory' where there is no `sessionStorage`
   */
  storage?: StorageOption;
  /**
   * Key under which the session id is stored.
   * @default 'morgan.sessionId'
   */
  storageKey?: string;
  /**
   * Interval of `session.heartbeat`; lowered to a third of the server's
   * session timeout when that is shorter.
   * @default 60000
   */
  heartbeatIntervalMs?: number;
  /** Reconnect policy; see {@link reconnectDefaults}. */
  reconnect?: Partial<ReconnectOptions>;
  /** Retries of 503/429 answers; see {@link httpRetryDefaults}. */
  http?: Partial<HttpRetryOptions>;
  /**
   * What carries subscriptions (the session's events): `'websocket'`;
   * `'sse'`, Server-Sent Events through tRPC's `httpSubscriptionLink`, with
   * calls over HTTP and no socket; or `'auto'`, the WebSocket first and SSE
   * when upgrades fail while HTTP works (see `transportFallback`), trying
   * the WebSocket again every 30 s or so. Same states, backoff and resume by
   * last event id on both; `client.transport` and `on('transport')` say
   * which is in use.
   * @default 'auto'
   */
  transport?: TransportOption;
  /** When `'auto'` moves to SSE and tries the WebSocket again; see {@link transportFallbackDefaults}. */
  transportFallback?: Partial<TransportFallbackOptions>;
  /**
   * WebSocket implementation; required in Node 20 for `transport:
   * 'websocket'` (`import { WebSocket } from 'ws'`); without one, `'auto'`
   * uses SSE.
   * @default globalThis.WebSocket
   */
  WebSocket?: WebSocketLike;
  /**
   * fetch implementation.
   * @default globalThis.fetch
   */
  fetch?: FetchLike;
  /** `userId` of sessions this client creates. */
  userId?: string;
  /** `conversationId` of sessions this client creates. */
  conversationId?: string;
  /** `metadata` of sessions this client creates. */
  metadata?: JsonObject;
  /**
   * Source of `online`/`offline` events: `true` uses `window` when there is
   * one, `false` ignores them, or pass any event target.
   * @default true
   */
  onlineEvents?: boolean | OnlineEventSource;
  /**
   * Stamp every mutation but `session.create` and calls marked
   * `context.idempotent` (the client's heartbeats) with an idempotency key
   * (`Idempotency-Key` over HTTP, `params.idempotencyKey` over WebSocket),
   * made once per call and kept by its retries, so the server runs it once
   * however often it is resent: after a dropped connection, a network
   * failure or a 409 `REQUEST_IN_PROGRESS`. Keyed mutations go unbatched.
   * `false` sends keys only for calls that pass `context.idempotencyKey`.
   * @default true
   */
  idempotencyKeys?: boolean;
  /**
   * `'per-tab'`: each client opens its own WebSocket. `'shared'`: the tabs
   * of a browser (clients with the same `url`) share one WebSocket, held by
   * a tab elected with the Web Locks API and reached over BroadcastChannel;
   * every tab keeps its own session, and its calls, heartbeats and event
   * streams travel over that socket (session creation stays on HTTP). When
   * the leading tab closes or crashes, the next one takes over and the
   * others reconnect at once; event streams resume from the last event id.
   * Where Web Locks or BroadcastChannel is missing (and none is passed),
   * `'shared'` falls back to `'per-tab'`.
   * @default 'per-tab'
   */
  connection?: ConnectionMode;
  /**
   * Lock manager of `connection: 'shared'`. Node has no Web Locks API: pass
   * one `createMemoryLocks()` to every client of the process that shares a socket.
   * @default globalThis.navigator.locks
   */
  locks?: LockManagerLike;
  /**
   * `BroadcastChannel` implementation of `connection: 'shared'`.
   * @default globalThis.BroadcastChannel
   */
  BroadcastChannel?: BroadcastChannelConstructor;
}

/** The `transport` option: what carries subscriptions. */
export type TransportOption = 'auto' | 'websocket' | 'sse';

/** How a client reaches the server's WebSocket: a socket of its own, or one per browser. */
export type ConnectionMode = 'per-tab' | 'shared';

/** Defaults of {@link ReconnectOptions}. */
export const reconnectDefaults: ReconnectOptions = {
  ...backoffDefaults,
  maxAttempts: Number.POSITIVE_INFINITY,
};

/** Defaults of {@link HttpRetryOptions}. */
export const httpRetryDefaults: HttpRetryOptions = {
  maxRetries: 3,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  statuses: RETRYABLE_STATUSES,
  idempotentPaths: [],
};

/** Defaults of {@link TransportFallbackOptions}. */
export const transportFallbackDefaults: TransportFallbackOptions = {
  failures: 2,
  timeoutMs: 10_000,
  retryWebSocketMs: 30_000,
};

/** Defaults of {@link SessionClientOptions} (those that have one everywhere). */
export const sessionClientDefaults = {
  trpcPath: '/trpc',
  storageKey: 'morgan.sessionId',
  heartbeatIntervalMs: 60_000,
  onlineEvents: true,
  idempotencyKeys: true,
  transport: 'auto',
  connection: 'per-tab',
  reconnect: reconnectDefaults,
  http: httpRetryDefaults,
} as const;
