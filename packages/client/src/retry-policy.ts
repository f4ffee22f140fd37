import { fullJitterBackoff, parseRetryAfter } from './backoff.js';
import { isStaleConnectionError } from './errors.js';
import type { HttpRetryOptions } from './options.js';
import { code } from './protocol.js';

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

/** How one attempt of an HTTP call ended. */
export type AttemptOutcome =
  /** No answer: the request failed on the network. */
  | { readonly kind: 'failed'; readonly error: unknown }
  /** An error answer from the server. */
  | {
      readonly kind: 'answered';
      readonly status: number;
      /** The `Retry-After` header, as sent. */
      readonly retryAfter: string | null | undefined;
      /** The server's stable code (`data.errorCode` or the JSON body's), when it sent one. */
      readonly errorCode: string | undefined;
    };

/** What to do after an attempt failed. */
export type RetryDecision =
  /** Send the same call once more, at once (its keep-alive connection had died). */
  | { readonly action: 'resend' }
  /** Send it again after `delayMs` (503/429 with `Retry-After` plus jitter). */
  | { readonly action: 'wait'; readonly delayMs: number }
  /** The server does not know `sessionId`: replace the session, then resend. */
  | { readonly action: 'replace'; readonly sessionId: string }
  /** Report the failure to the caller. */
  | { readonly action: 'give-up' };

/** What one call may do again. */
export interface CallRetryOptions {
  options: HttpRetryOptions;
  /** The call may be sent twice with the same effect (a query, GET, or a call marked idempotent). */
  replayable: boolean;
  /** A `SESSION_NOT_FOUND` answer may replace the session and resend the call. @default true */
  replaceSession?: boolean;
}

/**
 * The client's one retry policy for HTTP calls, shared by the tRPC link and
 * `client.fetch`; one instance follows one call through its attempts:
 * - a replayable call whose connection broke under it is sent once more at
 *   once: after a server restart the first request often goes out on a
 *   pooled keep-alive socket the server already closed;
 * - 503 and 429 are retried after `Retry-After` plus jitter, for replayable
 *   calls only (never other mutations), up to `maxRetries`;
 * - `SESSION_NOT_FOUND` for the id the call carried replaces the session
 *   once and sends the call again (the server turned it away before running
 *   it).
 *
 * @example
 * const retries = new CallRetries({ options: httpRetryDefaults, replayable: true });
 * retries.next({ kind: 'answered', status: 503, retryAfter: '1', errorCode: undefined }, id);
 * // → { action: 'wait', delayMs: 1000 … 1250 }
 */
export class CallRetries {
  readonly #options: HttpRetryOptions;
  readonly #replayable: boolean;
  readonly #mayReplace: boolean;
  #retries = 0;
  #resent = false;
  #replaced = false;

  constructor({ options, replayable, replaceSession = true }: CallRetryOptions) {
    this.#options = options;
    this.#replayable = replayable;
    this.#mayReplace = replaceSession;
  }

  /** The next step after an attempt that carried `sessionId` ended with `outcome`. */
  next(outcome: AttemptOutcome, sessionId: string | undefined): RetryDecision {
    if (outcome.kind === 'failed') {
      if (this.#replayable && !this.#resent && isStaleConnectionError(outcome.error)) {
        this.#resent = true;
        return { action: 'resend' };
      }
      return GIVE_UP;
    }
    if (this.#replayable && this.#options.statuses.includes(outcome.status)) {
      const delayMs = httpRetryDelay(
        this.#retries,
        parseRetryAfter(outcome.retryAfter),
        this.#options,
      );
      if (delayMs !== undefined) {
        this.#retries += 1;
        return { action: 'wait', delayMs };
      }
    }
    if (
      outcome.errorCode === code('SESSION_NOT_FOUND') &&
      sessionId !== undefined &&
      this.#mayReplace &&
      !this.#replaced
    ) {
      this.#replaced = true;
      return { action: 'replace', sessionId };
    }
    return GIVE_UP;
  }
}

const GIVE_UP: RetryDecision = Object.freeze({ action: 'give-up' });
