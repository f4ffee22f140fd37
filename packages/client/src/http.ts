import { type Operation, TRPCClientError, type TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { HttpRetryOptions } from './base-options.js';
import { httpStatusOf, serverErrorCode } from './errors.js';
import { idempotencyKeyOf } from './idempotency.js';
import { type AttemptOutcome, CallRetries } from './retry-policy.js';

/**
 * Context flags a call can pass to the client's links:
 * `trpc.cart.set.mutate(input, { context: { idempotent: true } })`.
 */
export interface SessionCallContext {
  /** This mutation may be sent again after a 503/429. */
  idempotent?: boolean;
  /**
   * This mutation's idempotency key, for an app that retries a call itself
   * and wants each of its tries to be the same call (1 to 255 visible ASCII
   * characters). @default a new `crypto.randomUUID()` per call
   */
  idempotencyKey?: string;
  /** Internal: do not replace the session and retry on `SESSION_NOT_FOUND`. */
  morganNoReplace?: boolean;
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
  return (
    context?.idempotent === true ||
    typeof (context as { morganIdempotencyKey?: unknown } | undefined)?.morganIdempotencyKey ===
      'string' ||
    options.idempotentPaths.includes(path)
  );
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
 * A tRPC link for queries and mutations that follows the client's retry
 * policy ({@link CallRetries}): a broken keep-alive connection is tried
 * once more, 503/429 are retried after `Retry-After` for replayable calls,
 * mutations with an idempotency key also after a lost attempt and 409
 * `REQUEST_IN_PROGRESS`, and `SESSION_NOT_FOUND` for the id sent replaces
 * the session and sends the call once more when the call had not started.
 * Over HTTP it takes every call; over the socket only those `applies`
 * accepts (keyed mutations), with no session replacement.
 */
export function httpRetryLink<TRouter extends AnyRouter>(
  deps: RetryLinkDeps,
  applies: (op: Operation) => boolean = () => true,
): TRPCLink<TRouter> {
  return () =>
    ({ op, next }) =>
      !applies(op)
        ? next(op)
        : observable((observer) => {
            let current: Unsubscribable | undefined;
            let timer: ReturnType<typeof setTimeout> | undefined;
            let stopped = false;
            const context = op.context as SessionCallContext;
            const keyed = idempotencyKeyOf(op) !== undefined;
            const retries = new CallRetries({
              options: deps.options,
              replayable: isReplayable(op.type, op.path, context, deps.options),
              replaceSession: context.morganNoReplace !== true,
              keyed,
              mayHaveRun: op.type === 'mutation',
            });

            const attempt = () => {
              const sentId = deps.sessionId();
              current = next(op).subscribe({
                next: (envelope) => observer.next(envelope),
                complete: () => observer.complete(),
                error: (error) => {
                  if (stopped) return;
                  const decision = retries.next(outcomeOf(error), sentId);
                  switch (decision.action) {
                    case 'resend':
                      attempt();
                      return;
                    case 'wait':
                      timer = setTimeout(attempt, decision.delayMs);
                      return;
                    case 'replace':
                      deps.replaceSession(decision.sessionId).then(
                        (ok) => {
                          if (stopped) return;
                          if (ok) attempt();
                          else observer.error(error);
                        },
                        () => {
                          if (!stopped) observer.error(error);
                        },
                      );
                      return;
                    case 'give-up':
                      observer.error(decision.sessionLost ? sessionLostError(error) : error);
                  }
                },
              });
            };

            attempt();
            return () => {
              stopped = true;
              if (timer !== undefined) clearTimeout(timer);
              current?.unsubscribe();
            };
          });
}

/** How a tRPC call's error ended the attempt: an answer with a status, or none. */
function outcomeOf(error: TRPCClientError<AnyRouter>): AttemptOutcome {
  const status = httpStatusOf(error);
  const errorCode = serverErrorCode(error);
  if (status === undefined && errorCode === undefined) return { kind: 'failed', error };
  const response = error.meta?.response as Response | undefined;
  const data = error.data as { notStarted?: unknown } | null | undefined;
  return {
    kind: 'answered',
    status: status ?? 0,
    retryAfter: response?.headers?.get('retry-after'),
    errorCode,
    // A plain JSON body comes from the session middleware, before any procedure ran.
    notStarted: data?.notStarted === true || error.shape === undefined,
  };
}

/**
 * The error of a mutation whose session ended while it ran: it is not sent
 * again under a new session, since it may have taken effect.
 */
function sessionLostError(error: TRPCClientError<AnyRouter>): TRPCClientError<AnyRouter> {
  return new TRPCClientError(
    'The session ended while this mutation was running; it was not sent again under a new session, as it may have taken effect',
    { cause: error, result: { error: error.shape }, ...(error.meta ? { meta: error.meta } : {}) },
  );
}
