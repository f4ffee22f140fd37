/** Settings of the reconnect backoff. */
export interface BackoffOptions {
  /**
   * Upper bound of the first delay; each attempt doubles it (see `factor`).
   * @default 1000
   */
  baseDelayMs: number;
  /**
   * Cap of every delay, however many attempts failed.
   * @default 30000
   */
  maxDelayMs: number;
  /**
   * Growth of the upper bound per failed attempt.
   * @default 2
   */
  factor: number;
}

/** Defaults of {@link BackoffOptions}. */
export const backoffDefaults: BackoffOptions = {
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  factor: 2,
};

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry):
 * exponential backoff with full jitter, a uniformly random delay between 0
 * and `min(maxDelayMs, baseDelayMs * factor ** attempt)`. Full jitter spreads
 * a crowd of clients that lost the same server over the whole window, so they
 * do not come back in waves.
 *
 * Pure apart from `random`, which tests and callers may pass in.
 *
 * @example
 * fullJitterBackoff(3, reconnectDefaults); // somewhere in [0, 8000) ms
 */
export function fullJitterBackoff(
  attempt: number,
  options: BackoffOptions = backoffDefaults,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}

/** The upper bound of the delay of `attempt`: `min(max, base * factor ** attempt)`. */
export function backoffCeiling(attempt: number, options: BackoffOptions = backoffDefaults): number {
  const exponent = Math.max(0, Math.floor(attempt));
  const grown = options.baseDelayMs * options.factor ** exponent;
  return Math.max(
    0,
    Math.min(options.maxDelayMs, Number.isFinite(grown) ? grown : options.maxDelayMs),
  );
}

/**
 * The delay a `Retry-After` header asks for, in milliseconds: either a number
 * of seconds or an HTTP date. `undefined` when absent or unreadable.
 *
 * @example
 * parseRetryAfter('2'); // 2000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.now()); // ms until then, at least 0
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP date names its day and month; this keeps `-3` or `2` and a bit
  // from being read as a year.
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
