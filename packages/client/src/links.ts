import {
  httpBatchLink,
  httpLink,
  type Operation,
  splitLink,
  TRPCClientError,
  type TRPCLink,
  type TRPCWebSocketClient,
  wsLink,
} from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import superjson from 'superjson';
import type { FetchLike } from './base-options.js';
import { ClientErrorCode, SessionClientError } from './errors.js';
import { httpRetryLink, type RetryLinkDeps } from './http.js';
import { IDEMPOTENCY_HEADER, idempotencyKeyOf } from './idempotency-key.js';
import type { IdempotencyKeysPlugin, SseTransportPlugin } from './plugins.js';
import { SESSION_HEADER } from './protocol.js';
import { type RotateSession, rotationAwareFetch } from './rotation.js';
import type { TransportKind } from './session-events.js';

/** What the client's links need from the client. */
export interface SessionLinkDeps extends RetryLinkDeps {
  /** HTTP URL of the tRPC endpoint. */
  httpUrl: string;
  fetch: FetchLike;
  /** The server rotated `sentId`: an HTTP answer's `X-Session-Id` named another id. */
  rotateSession: RotateSession;
  /**
   * The WebSocket client subscriptions go through; opens it (and connects)
   * when needed. Throws once the client is closed.
   */
  wsClient: () => TRPCWebSocketClient;
  /** A subscription or call over the socket starts; the function returned says it ended (`lazy`). */
  useSocket?: (() => () => void) | undefined;
  /** With `idempotencyKeys()`: stamps mutations with keys and carries them over the socket. */
  idempotencyKeys: IdempotencyKeysPlugin | undefined;
  /**
   * Where subscriptions go when the client may use SSE (`transport` not
   * `'websocket'`): the transport in use, its changes and the SSE link.
   */
  subscriptions?: SubscriptionTransport | undefined;
  /**
   * True while every call of the app (and heartbeats) goes over the socket
   * too, as with `connection: 'shared'` on the WebSocket transport; the
   * client's own session calls (create, get, delete) stay on HTTP, since a
   * socket needs a session first.
   */
  callsOverSocket?: (() => boolean) | undefined;
}

/** The SSE side of {@link SessionLinkDeps.subscriptions}. */
export interface SubscriptionTransport {
  current: () => TransportKind;
  onSwitch: (listener: () => void) => () => void;
  sseLink: <TRouter extends AnyRouter>() => TRPCLink<TRouter>;
  /** `sseTransport()`'s link that moves subscriptions between the transports. */
  switchLink: SseTransportPlugin['switchLink'];
}

/**
 * The client's link chain: an idempotency key on every mutation but
 * `session.create`; subscriptions over the WebSocket (whose
 * `connectionParams` carry the session id), queries over batched HTTP and
 * keyed mutations over unbatched HTTP (`Idempotency-Key`) with
 * `X-Session-Id`, 503/429 retries and session replacement,
 * and a new id in an answer's `X-Session-Id` followed as a rotation;
 * superjson both ways. Each call returns fresh links over the same client
 * state, so several tRPC clients can share one session and one socket.
 */
export function createSessionLinks<TRouter extends AnyRouter>(
  deps: SessionLinkDeps,
): TRPCLink<TRouter>[] {
  const fetch = rotationAwareFetch(deps.fetch, deps.rotateSession);
  const keys = deps.idempotencyKeys;
  const ws = lazyWsLink<TRouter>(deps, keys?.wsClient);
  const subscriptions = deps.subscriptions;
  const split = splitLink<TRouter>({
    // Subscriptions, and calls that ask for it (`context.morganTransport: 'ws'`), go over the socket.
    condition: (op) =>
      op.type === 'subscription' ||
      op.context.morganTransport === 'ws' ||
      (deps.callsOverSocket?.() === true &&
        (op.context.morganSessionId === undefined || op.path === 'session.heartbeat')),
    true: [
      // A keyed mutation is resent after the socket dropped or while its first try runs.
      httpRetryLink<TRouter>(
        { ...deps, replaceSession: async () => false },
        (op) => idempotencyKeyOf(op) !== undefined,
      ),
      subscriptions === undefined
        ? ws
        : splitLink<TRouter>({
            // Over the transport in use, moving when it changes.
            condition: (op) => op.type === 'subscription',
            true: subscriptions.switchLink<TRouter>({
              current: subscriptions.current,
              onSwitch: subscriptions.onSwitch,
              websocket: ws,
              sse: subscriptions.sseLink<TRouter>(),
            }),
            false: ws,
          }),
    ],
    false: [
      httpRetryLink<TRouter>(deps),
      splitLink<TRouter>({
        // The client's own calls carry exactly the id they name, and keyed
        // mutations their key: one call per request, unbatched.
        condition: (op) =>
          op.context.morganSessionId !== undefined || idempotencyKeyOf(op) !== undefined,
        true: httpLink<TRouter>({
          url: deps.httpUrl,
          transformer: superjson,
          fetch,
          headers: ({ op }: { op: Operation }) => ({
            ...sessionHeader(
              op.context.morganSessionId === undefined
                ? deps.sessionId()
                : (op.context.morganSessionId as string | null),
            ),
            ...keyHeader(idempotencyKeyOf(op)),
          }),
        } as unknown as Parameters<typeof httpLink<TRouter>>[0]),
        false: httpBatchLink<TRouter>({
          url: deps.httpUrl,
          transformer: superjson,
          fetch,
          headers: () => sessionHeader(deps.sessionId()),
        } as unknown as Parameters<typeof httpBatchLink<TRouter>>[0]),
      }),
    ],
  });
  return keys === undefined ? [split] : [keys.link<TRouter>(), split];
}

function keyHeader(key: string | undefined): Record<string, string> {
  return key === undefined ? {} : { [IDEMPOTENCY_HEADER]: key };
}

function sessionHeader(sessionId: string | null | undefined): Record<string, string> {
  return sessionId === undefined || sessionId === null ? {} : { [SESSION_HEADER]: sessionId };
}

/** `wsLink` over a WebSocket client that is created on first use. */
function lazyWsLink<TRouter extends AnyRouter>(
  deps: Pick<SessionLinkDeps, 'wsClient' | 'useSocket'>,
  keyed: ((client: TRPCWebSocketClient) => TRPCWebSocketClient) | undefined,
): TRPCLink<TRouter> {
  return (runtime) => {
    let link: ReturnType<TRPCLink<TRouter>> | undefined;
    let linkClient: TRPCWebSocketClient | undefined;
    return (props) =>
      observable((observer) => {
        let client: TRPCWebSocketClient;
        try {
          client = deps.wsClient();
        } catch (error) {
          const cause =
            error instanceof SessionClientError
              ? error
              : new SessionClientError(ClientErrorCode.CLIENT_CLOSED, String(error), {
                  cause: error,
                });
          observer.error(TRPCClientError.from(cause));
          return () => {};
        }
        // One link per socket client: `transport: 'auto'` replaces the client.
        if (link === undefined || linkClient !== client) {
          linkClient = client;
          link = wsLink<TRouter>({
            client: keyed === undefined ? client : keyed(client),
            transformer: superjson,
          } as unknown as Parameters<typeof wsLink<TRouter>>[0])(runtime);
        }
        // The socket stays open while the operation runs (`lazy`).
        const done = deps.useSocket?.();
        const subscription = link(props).subscribe({
          next: (value) => observer.next(value),
          error: (error) => {
            done?.();
            observer.error(error);
          },
          complete: () => {
            done?.();
            observer.complete();
          },
        });
        return () => {
          done?.();
          subscription.unsubscribe();
        };
      });
  };
}
