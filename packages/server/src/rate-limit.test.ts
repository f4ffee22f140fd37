import { describe, expect, test } from 'vitest';
import { memoryRateLimiter, type RateLimitDecision, RecentRefusals } from './rate-limit.js';

const refused = (resetMs: number): RateLimitDecision => ({
  allowed: false,
  limit: 5,
  remaining: 0,
  resetMs,
  windowMs: 60_000,
});

describe('RecentRefusals', () => {
  test('keeps a refusal until its window resets, with the time left', () => {
    const refusals = new RecentRefusals();
    refusals.add('a', refused(10_000), 1_000);
    expect(refusals.get('a', 4_000)?.resetMs).toBe(7_000);
    expect(refusals.get('b', 4_000)).toBeUndefined();
    expect(refusals.get('a', 11_000)).toBeUndefined();
    expect(refusals.size).toBe(0);
  });

  test('ignores allowed decisions', () => {
    const refusals = new RecentRefusals();
    refusals.add('a', { ...refused(10_000), allowed: true, remaining: 3 }, 0);
    expect(refusals.get('a', 1)).toBeUndefined();
  });

  test('is bounded: past maxKeys the oldest key goes first', () => {
    const refusals = new RecentRefusals(2);
    refusals.add('a', refused(10_000), 0);
    refusals.add('b', refused(10_000), 0);
    refusals.add('c', refused(10_000), 0);
    expect(refusals.size).toBe(2);
    expect(refusals.get('a', 1)).toBeUndefined();
    expect(refusals.get('b', 1)).toBeDefined();
    expect(refusals.get('c', 1)).toBeDefined();
  });
});

describe('memoryRateLimiter', () => {
  test('allows limit points per window, then refuses with the time to reset', async () => {
    const limiter = memoryRateLimiter('t', { limit: 2, windowMs: 60_000 });
    const decisions = [];
    for (let i = 0; i < 3; i += 1) decisions.push(await limiter.consume('k'));
    expect(decisions.map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(decisions[2]?.resetMs).toBeGreaterThan(0);
    expect(decisions[2]?.resetMs).toBeLessThanOrEqual(60_000);
    expect((await limiter.consume('other')).allowed).toBe(true);
  });
});
