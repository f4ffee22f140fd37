import { type BackoffOptions, backoffDefaults } from './backoff.js';
import type {
  FetchLike,
  HttpRetryOptions,
  OnlineEventSource,
  TransportFallbackOptions,
} from './base-options.js';
import type {
  IdempotencyKeysPlugin,
  SharedConnectionPlugin,
  SseTransportPlugin,
} from './plugins.js';
import { type JsonObject, RETRYABLE_STATUSES } from './protocol.js';
import type { LockManagerLike } from './shared/locks.js';
import type { BroadcastChannelConstructor } from './shared/messages.js';
import type { StorageOption } from './storage.js';

export type {
  FetchLike,
  HttpRetryOptions,
  OnlineEventSource,
  TransportFallbackOptions,
} from './base-options.js';

/**
 * A WebSocket constructor: the browser's, or `WebSocket` from the `ws`
 * package in Node 20 (which has no global one).
 */
export type WebSocketLike = abstract new (url: string, protocols?: string | string[]) => unknown;

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
   * What carries subscriptions (the session's events): `'websocket'`, or
   * `sseTransport()` from `@morgan/session-client/sse`: `sseTransport()`
   * (`'auto'`), the WebSocket first and SSE when upgrades fail while HTTP
   * works (see `transportFallback`), trying the WebSocket again every 30 s
   * or so; `sseTransport('sse')`, Server-Sent Events through tRPC's
   * `httpSubscriptionLink`, with calls over HTTP and no socket. Same
   * states, backoff and resume by last event id on both; `client.transport`
   * and `on('transport')` say which is in use. An opt-in import, so that a
   * bundle without it carries no SSE code.
   * @default 'websocket'
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
   * `idempotencyKeys()` from `@morgan/session-client/idempotency`: stamp
   * every mutation but `session.create` and calls marked
   * `context.idempotent` (the client's heartbeats) with an idempotency key
   * (`Idempotency-Key` over HTTP, `params.idempotencyKey` over WebSocket),
   * made once per call and kept by its retries, so the server runs it once
   * however often it is resent: after a dropped connection, a network
   * failure or a 409 `REQUEST_IN_PROGRESS`. Keyed mutations go unbatched.
   * `idempotencyKeys({ stamp: false })` sends keys only for calls that pass
   * `context.idempotencyKey`. Without it no key is sent (an opt-in import,
   * so that a bundle without it carries none of its code).
   * @default undefined (no keys)
   */
  idempotencyKeys?: IdempotencyKeysPlugin | undefined;
  /**
   * `'per-tab'`: each client opens its own WebSocket. `sharedConnection()`
   * from `@morgan/session-client/shared`: the tabs of a browser (clients
   * with the same `url`) share one WebSocket, held by a tab elected with the
   * Web Locks API and reached over BroadcastChannel; every tab keeps its own
   * session, and its calls, heartbeats and event streams travel over that
   * socket (session creation stays on HTTP). When the leading tab closes or
   * crashes, the next one takes over and the others reconnect at once;
   * event streams resume from the last event id. Where Web Locks or
   * BroadcastChannel is missing (and none is passed), it falls back to
   * `'per-tab'`. An opt-in import, so that a bundle without it carries none
   * of its code.
   * @default 'per-tab'
   */
  connection?: 'per-tab' | SharedConnectionPlugin;
  /**
   * Open the WebSocket on first use (a subscription, or a call sent over
   * it) rather than on `connect()`, and close it once nothing used it for
   * `closeMs`, as tRPC's `wsLink` `lazy` does. The session stays: while the
   * socket is closed the client stays `connected` (its session confirmed
   * over HTTP), heartbeats pause, and running subscriptions keep the
   * socket open. See {@link lazyDefaults}.
   * @default { enabled: false, closeMs: 0 }
   */
  lazy?: Partial<LazyOptions>;
  /**
   * Lock manager of `connection: sharedConnection()`. Node has no Web Locks API: pass
   * one `createMemoryLocks()` to every client of the process that shares a socket.
   * @default globalThis.navigator.locks
   */
  locks?: LockManagerLike;
  /**
   * `BroadcastChannel` implementation of `connection: sharedConnection()`.
   * @default globalThis.BroadcastChannel
   */
  BroadcastChannel?: BroadcastChannelConstructor;
}

/** The `transport` option: what carries subscriptions. */
export type TransportOption = 'websocket' | SseTransportPlugin;

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

/** The `lazy` option: a WebSocket opened on first use and closed when idle. */
export interface LazyOptions {
  /**
   * Open the WebSocket on first use and close it when idle.
   * @default false
   */
  enabled: boolean;
  /**
   * How long the socket stays open with nothing using it (no subscription,
   * no call in flight) before it closes.
   * @default 0
   */
  closeMs: number;
}

/** Defaults of {@link LazyOptions}: as tRPC's `wsLink`. */
export const lazyDefaults: LazyOptions = {
  enabled: false,
  closeMs: 0,
};

/** Defaults of {@link SessionClientOptions} (those that have one everywhere). */
export const sessionClientDefaults = {
  trpcPath: '/trpc',
  storageKey: 'morgan.sessionId',
  heartbeatIntervalMs: 60_000,
  onlineEvents: true,
  transport: 'websocket',
  connection: 'per-tab',
  reconnect: reconnectDefaults,
  http: httpRetryDefaults,
  lazy: lazyDefaults,
} as const;
