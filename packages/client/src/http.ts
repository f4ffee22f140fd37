import type { TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import { fullJitterBackoff, parseRetryAfter } from './backoff.js';
import { httpStatusOf, isStaleConnectionError, serverErrorCode } from './errors.js';
import type { HttpRetryOptions } from './options.js';

/** Header that carries the session id on every HTTP request. */
export const SESSION_HEADER = 'X-Session-Id';

/**
 * Context flags a call can pass to the client's links:
 * `trpc.cart.set.mutate(input, { context: { idempotent: true } })`.
 */
export interface SessionCallContext {
  /** This mutation may be sent again after a 503/429. */
  idempotent?: boolean;
  /** Internal: do not replace the session and retry on `SESSION_NOT_FOUND`. */
  morganNoReplace?: boolean;
}

/**
 * The wait before retry `attempt` (0 for the first) of a call answered with a
 * retryable status, or `undefined` to give up: `Retry-After` (when sent) plus
 * full jitter, so clients turned away together do not all come back at the
 * same instant. A `Retry-After` longer than `maxDelayMs` gives up at once.
 *
 * @example
 * httpRetryDelay(0, 2000, httpRetryDefaults); // 2000 … 2250
 */
export function httpRetryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  options: HttpRetryOptions,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= options.maxRetries) return undefined;
  if (retryAfterMs !== undefined && retryAfterMs > options.maxDelayMs) return undefined;
  const jitter = fullJitterBackoff(
    attempt,
    { baseDelayMs: options.baseDelayMs, maxDelayMs: options.maxDelayMs, factor: 2 },
    random,
  );
  return Math.min(options.maxDelayMs, (retryAfterMs ?? 0) + jitter);
}

/** True when a call of `type` on `path` may be sent again. */
export function isReplayable(
  type: string,
  path: string,
  context: SessionCallContext | undefined,
  options: HttpRetryOptions,
): boolean {
  if (type === 'query') return true;
  if (type !== 'mutation') return false;
  return context?.idempotent === true || options.idempotentPaths.includes(path);
}

/** What the retry link needs from the client. */
export interface RetryLinkDeps {
  options: HttpRetryOptions;
  /** The session id the next request will carry. */
  sessionId: () => string | undefined;
  /**
   * The server does not know `sentId`: replace it (once, however many calls
   * ask) and resolve `true` when a new session is in place to retry with.
   */
  replaceSession: (sentId: string) => Promise<boolean>;
}

/**
 * A tRPC link for queries and mutations over HTTP that
 * - sends a replayable call (query, idempotent mutation) once more at once
 *   when its connection broke under it: after a server restart the first
 *   request often goes out on a pooled keep-alive socket the server already
 *   closed;
 * - retries 503 and 429 answers after `Retry-After` plus jitter, for queries
 *   and for mutations marked idempotent (never other mutations);
 * - on `SESSION_NOT_FOUND` for the id it sent, has the client replace the
 *   session and sends the call once more with the new id (the server turned
 *   it away before running it).
 */
export function httpRetryLink<TRouter extends AnyRouter>(deps: RetryLinkDeps): TRPCLink<TRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        let current: Unsubscribable | undefined;
        let timer: ReturnType<typeof setTimeout> | undefined;
        let stopped = false;
        const context = op.context as SessionCallContext;

        let resent = false;
        const attempt = (retry: number, replaced: boolean) => {
          const sentId = deps.sessionId();
          current = next(op).subscribe({
            next: (envelope) => observer.next(envelope),
            complete: () => observer.complete(),
            error: (error) => {
              if (stopped) return;
              const replayable = isReplayable(op.type, op.path, context, deps.options);
              if (!resent && replayable && isStaleConnectionError(error)) {
                resent = true;
                attempt(retry, replaced);
                return;
              }
              const status = httpStatusOf(error);
              if (status !== undefined && deps.options.statuses.includes(status) && replayable) {
                const retryAfter = (error.meta?.response as Response | undefined)?.headers?.get(
                  'retry-after',
                );
                const delay = httpRetryDelay(retry, parseRetryAfter(retryAfter), deps.options);
                if (delay !== undefined) {
                  timer = setTimeout(() => attempt(retry + 1, replaced), delay);
                  return;
                }
              }
              if (
                serverErrorCode(error) === 'SESSION_NOT_FOUND' &&
                sentId !== undefined &&
                !replaced &&
                context.morganNoReplace !== true
              ) {
                deps.replaceSession(sentId).then(
                  (ok) => {
                    if (stopped) return;
                    if (ok) attempt(retry, true);
                    else observer.error(error);
                  },
                  () => {
                    if (!stopped) observer.error(error);
                  },
                );
                return;
              }
              observer.error(error);
            },
          });
        };

        attempt(0, false);
        return () => {
          stopped = true;
          if (timer !== undefined) clearTimeout(timer);
          current?.unsubscribe();
        };
      });
}
