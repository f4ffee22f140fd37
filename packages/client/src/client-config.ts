import { fullJitterBackoff } from './backoff.js';
import {
  type FetchLike,
  type HttpRetryOptions,
  httpRetryDefaults,
  type LazyOptions,
  lazyDefaults,
  type OnlineEventSource,
  type ReconnectOptions,
  reconnectDefaults,
  type SessionClientOptions,
  sessionClientDefaults,
  type TransportFallbackOptions,
  type TransportOption,
  transportFallbackDefaults,
} from './options.js';
import type { IdempotencyKeysPlugin } from './plugins.js';
import type { CreateSessionInput } from './protocol.js';
import { defaultStorageOption, openSessionIdStore, type SessionIdStore } from './storage.js';
import { type ClientUrls, resolveUrls } from './urls.js';

/** The options of a client with their defaults applied, worked out once. */
export interface ClientConfig {
  urls: ClientUrls;
  fetch: FetchLike;
  http: HttpRetryOptions;
  reconnect: ReconnectOptions;
  /** Delay before reconnect attempt `attempt`: `reconnect.delayMs`, or full jitter. */
  retryDelayMs: (attempt: number) => number;
  ids: SessionIdStore;
  /** What `session.create` sends: `userId`, `conversationId`, `metadata`. */
  createInput: CreateSessionInput;
  heartbeatIntervalMs: number;
  onlineEvents: boolean | OnlineEventSource;
  idempotencyKeys: IdempotencyKeysPlugin | undefined;
  transport: TransportOption;
  lazy: LazyOptions;
  transportFallback: TransportFallbackOptions;
  /** The WebSocket implementation given, or the platform's when asked; undefined without one. */
  webSocket: () => unknown;
}

/** The error of a client that needs a WebSocket and has none. */
export const NO_WEBSOCKET =
  "No WebSocket implementation: pass `WebSocket` (in Node 20: `import { WebSocket } from 'ws'`)";

/**
 * Applies the defaults to `options`.
 * @throws TypeError for a `url` that does not parse, or without any `fetch`.
 */
export function resolveClientConfig(options: SessionClientOptions): ClientConfig {
  const urls = resolveUrls(options.url, options.trpcPath ?? sessionClientDefaults.trpcPath);
  const fetch = resolveFetch(options.fetch);
  const reconnect = { ...reconnectDefaults, ...options.reconnect };
  return {
    urls,
    fetch,
    http: { ...httpRetryDefaults, ...options.http },
    reconnect,
    retryDelayMs: reconnect.delayMs ?? ((attempt) => fullJitterBackoff(attempt, reconnect)),
    ids: openSessionIdStore(
      options.storage ?? defaultStorageOption(),
      options.storageKey ?? sessionClientDefaults.storageKey,
    ),
    createInput: createInput(options),
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? sessionClientDefaults.heartbeatIntervalMs,
    onlineEvents: options.onlineEvents ?? sessionClientDefaults.onlineEvents,
    idempotencyKeys: options.idempotencyKeys,
    transport: options.transport ?? sessionClientDefaults.transport,
    lazy: { ...lazyDefaults, ...options.lazy },
    transportFallback: { ...transportFallbackDefaults, ...options.transportFallback },
    webSocket: () => options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket,
  };
}

function createInput(options: SessionClientOptions): CreateSessionInput {
  const input: CreateSessionInput = {};
  if (options.userId !== undefined) input.userId = options.userId;
  if (options.conversationId !== undefined) input.conversationId = options.conversationId;
  if (options.metadata !== undefined) input.metadata = options.metadata;
  return input;
}

function resolveFetch(fetchOption: FetchLike | undefined): FetchLike {
  if (fetchOption !== undefined) return fetchOption;
  const platform = (globalThis as { fetch?: FetchLike }).fetch;
  if (platform === undefined) throw new TypeError('No fetch implementation: pass `fetch`');
  return (input, init) => platform(input, init);
}
