import { RateLimiterMemory, type RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** A fixed window: at most `limit` points per `windowMs`. */
export interface RateLimitPolicy {
  /** Points allowed per window. */
  limit: number;
  /** Length of the window, in ms (whole seconds: the limiter counts in seconds). */
  windowMs: number;
}

/** What one `consume` decided. */
export interface RateLimitDecision {
  allowed: boolean;
  /** The policy's limit. */
  limit: number;
  /** Points left in this window (0 when refused). */
  remaining: number;
  /** Time until the window resets, in ms. */
  resetMs: number;
  /** The window, in ms. */
  windowMs: number;
}

/**
 * Counts points per key in a fixed window. Implementations: in process
 * (`memoryRateLimiter`), and in Redis (`RedisStore#rateLimiter`), so a limit
 * holds across every node that shares the store. Both wrap the maintained
 * `rate-limiter-flexible` library.
 */
export interface RateLimiter {
  readonly policy: RateLimitPolicy;
  /** Takes one point for `key`; refused once the window's points are spent. */
  consume(key: string): Promise<RateLimitDecision>;
}

/** The limiter of one node. @example const perAddress = memoryRateLimiter('create', { limit: 60, windowMs: 60_000 }); */
export function memoryRateLimiter(name: string, policy: RateLimitPolicy): RateLimiter {
  return flexibleRateLimiter(
    new RateLimiterMemory({ keyPrefix: name, points: policy.limit, duration: seconds(policy) }),
    policy,
  );
}

/**
 * Adapts a `rate-limiter-flexible` limiter (memory or Redis). A refusal is
 * a decision; a failure of the backing store rejects with that failure.
 */
export function flexibleRateLimiter(
  limiter: RateLimiterMemory | RateLimiterRedis,
  policy: RateLimitPolicy,
): RateLimiter {
  const decide = (res: RateLimiterRes, allowed: boolean): RateLimitDecision => ({
    allowed,
    limit: policy.limit,
    remaining: allowed ? res.remainingPoints : 0,
    resetMs: res.msBeforeNext,
    windowMs: seconds(policy) * 1000,
  });
  return {
    policy,
    consume: (key) =>
      limiter.consume(key).then(
        (res) => decide(res, true),
        (rejection: unknown) => {
          if (rejection instanceof RateLimiterRes) return decide(rejection, false);
          throw rejection;
        },
      ),
  };
}

/** The window in whole seconds, at least one. */
export function seconds(policy: RateLimitPolicy): number {
  return Math.max(1, Math.round(policy.windowMs / 1000));
}
