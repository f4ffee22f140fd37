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

/**
 * The refusals a limiter gave on this node, kept until their window resets,
 * so that a key known to be over its limit is turned away without a store
 * round trip and before its request body is read: a flood from one address
 * then costs next to nothing per request. Bounded: past `maxKeys` the oldest
 * entries go first (a forgotten key only costs a `consume` again).
 */
export class RecentRefusals {
  readonly #refusals = new Map<string, { until: number; decision: RateLimitDecision }>();
  readonly #maxKeys: number;

  constructor(maxKeys = 10_000) {
    this.#maxKeys = maxKeys;
  }

  /** Remembers a refused decision taken at `now`. */
  add(key: string, decision: RateLimitDecision, now: number): void {
    if (decision.allowed) return;
    this.#refusals.delete(key);
    if (this.#refusals.size >= this.#maxKeys) {
      const oldest = this.#refusals.keys().next().value;
      if (oldest !== undefined) this.#refusals.delete(oldest);
    }
    this.#refusals.set(key, { until: now + decision.resetMs, decision });
  }

  /** The refusal still in force for `key` at `now`, with the time left; undefined when none. */
  get(key: string, now: number): RateLimitDecision | undefined {
    const entry = this.#refusals.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#refusals.delete(key);
      return undefined;
    }
    return { ...entry.decision, resetMs: entry.until - now };
  }

  get size(): number {
    return this.#refusals.size;
  }
}
