import { RateLimiterRedis } from 'rate-limiter-flexible';
import {
  flexibleRateLimiter,
  type RateLimiter,
  type RateLimitPolicy,
  seconds,
} from '../rate-limit.js';
import type { RedisConnectionParts } from './session-reads.js';

/**
 * A limiter counting in the store's Redis (`rate-limiter-flexible`), under
 * the key prefix: every node sharing the store shares the counts. A Redis
 * failure rejects with `STORE_UNAVAILABLE`.
 */
export function redisRateLimiter(
  { connection, keys }: RedisConnectionParts,
  name: string,
  policy: RateLimitPolicy,
): RateLimiter {
  const limiter = flexibleRateLimiter(
    new RateLimiterRedis({
      storeClient: connection.client,
      keyPrefix: keys.rateLimit(name),
      points: policy.limit,
      duration: seconds(policy),
    }),
    policy,
  );
  return { policy, consume: (key) => connection.call(() => limiter.consume(key)) };
}
