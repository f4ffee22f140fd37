import { fullJitterBackoff, parseRetryAfter } from './backoff.js';
import type { HttpRetryOptions } from './base-options.js';
import { ClientErrorCode, isStaleConnectionError } from './errors.js';
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
      /** The server says the call was turned away before it ran (`data.notStarted`, or a plain body). */
      readonly notStarted?: boolean | undefined;
    };

/** What to do after an attempt failed. */
export type RetryDecision =
  /** Send the same call once more, at once (its keep-alive connection had died). */
  | { readonly action: 'resend' }
  /** Send it again after `delayMs` (503/429 with `Retry-After` plus jitter). */
  | { readonly action: 'wait'; readonly delayMs: number }
  /** The server does not know `sessionId`: replace the session, then resend. */
  | { readonly action: 'replace'; readonly sessionId: string }
  /**
   * Report the failure to the caller; `sessionLost` when a mutation's
   * session ended while it may have run (it is not resent under a new one).
   */
  | { readonly action: 'give-up'; readonly sessionLost?: true };

/** What one call may do again. */
export interface CallRetryOptions {
  options: HttpRetryOptions;
  /** The call may be sent twice with the same effect (a query, GET, or a call marked idempotent). */
  replayable: boolean;
  /** A `SESSION_NOT_FOUND` answer may replace the session and resend the call. @default true */
  replaceSession?: boolean;
  /**
   * The call carries an idempotency key: the server runs it once however
   * often it arrives, so it is also resent after a network failure (with
   * backoff) and after 409 `REQUEST_IN_PROGRESS`. @default false
   */
  keyed?: boolean;
  /**
   * The call may have taken effect before a `SESSION_NOT_FOUND` (a
   * mutation): it is resent under a new session only when the server says
   * it never started. @default false
   */
  mayHaveRun?: boolean;
}

/**
 * The client's one retry policy for HTTP calls, shared by the tRPC link and
 * `client.fetch`; one instance follows one call through its attempts:
 * - a replayable call whose connection broke under it is sent once more at
 *   once: after a server restart the first request often goes out on a
 *   pooled keep-alive socket the server already closed;
 * - 503 and 429 are retried after `Retry-After` plus jitter, for replayable
 *   calls only (never other mutations), up to `maxRetries`;
 * - a call with an idempotency key is also resent after a network failure
 *   (backoff) and after 409 `REQUEST_IN_PROGRESS` (`Retry-After`);
 * - `SESSION_NOT_FOUND` for the id the call carried replaces the session
 *   once and sends the call again when the server turned it away before
 *   running it; a mutation whose session ended while it ran fails instead
 *   (`sessionLost`): under a new session its key would not protect it.
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
  readonly #keyed: boolean;
  readonly #mayHaveRun: boolean;
  #retries = 0;
  #resent = false;
  #replaced = false;

  constructor({
    options,
    replayable,
    replaceSession = true,
    keyed = false,
    mayHaveRun = false,
  }: CallRetryOptions) {
    this.#options = options;
    this.#replayable = replayable || keyed;
    this.#mayReplace = replaceSession;
    this.#keyed = keyed;
    this.#mayHaveRun = mayHaveRun;
  }

  /** The next step after an attempt that carried `sessionId` ended with `outcome`. */
  next(outcome: AttemptOutcome, sessionId: string | undefined): RetryDecision {
    if (outcome.kind === 'failed') {
      if (this.#replayable && !this.#resent && isStaleConnectionError(outcome.error)) {
        this.#resent = true;
        return { action: 'resend' };
      }
      // A keyed call lost on the way (either way: a failed fetch, a socket
      // closed under it) is resent: the server runs it once. Not after the
      // client itself was closed.
      if (this.#keyed && !closedByClient(outcome.error)) return this.#wait(undefined);
      return GIVE_UP;
    }
    const inProgress = this.#keyed && outcome.errorCode === code('REQUEST_IN_PROGRESS');
    if (inProgress || (this.#replayable && this.#options.statuses.includes(outcome.status))) {
      const decision = this.#wait(parseRetryAfter(outcome.retryAfter ?? (inProgress ? '1' : null)));
      if (decision !== GIVE_UP) return decision;
    }
    if (
      outcome.errorCode === code('SESSION_NOT_FOUND') &&
      sessionId !== undefined &&
      this.#mayReplace &&
      !this.#replaced
    ) {
      if (this.#mayHaveRun && outcome.notStarted !== true) return SESSION_LOST;
      this.#replaced = true;
      return { action: 'replace', sessionId };
    }
    return GIVE_UP;
  }

  #wait(retryAfterMs: number | undefined): RetryDecision {
    const delayMs = httpRetryDelay(this.#retries, retryAfterMs, this.#options);
    if (delayMs === undefined) return GIVE_UP;
    this.#retries += 1;
    return { action: 'wait', delayMs };
  }
}

/** True when `error` (or a cause of it) is the client's own `CLIENT_CLOSED`. */
function closedByClient(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth += 1) {
    if ((current as { code?: unknown }).code === ClientErrorCode.CLIENT_CLOSED) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const GIVE_UP: RetryDecision = Object.freeze({ action: 'give-up' });
const SESSION_LOST: RetryDecision = Object.freeze({ action: 'give-up', sessionLost: true });
