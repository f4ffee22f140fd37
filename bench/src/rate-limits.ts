import type { RateLimitPolicy } from '@morgan/session-server';

/**
 * `requestRateLimit` for the benchmark servers, whose load generators drive
 * one session (or a few) far past what a person does (thousands of requests a
 * second): the store still counts every request in its window, as it does by
 * default, so the per-request cost is measured, but the limit is out of reach.
 */
export const COUNT_WITHOUT_LIMIT: RateLimitPolicy = { limit: 1_000_000_000, windowMs: 60_000 };
