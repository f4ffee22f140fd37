import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDefaults, fullJitterBackoff, parseRetryAfter } from './backoff.js';

describe('backoffCeiling', () => {
  it('doubles from baseDelayMs and stops at maxDelayMs', () => {
    const ceilings = Array.from({ length: 8 }, (_, attempt) => backoffCeiling(attempt));
    expect(ceilings).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('stays capped for huge attempt numbers instead of overflowing', () => {
    expect(backoffCeiling(10_000)).toBe(backoffDefaults.maxDelayMs);
    expect(
      backoffCeiling(Number.MAX_SAFE_INTEGER, { baseDelayMs: 5, maxDelayMs: 77, factor: 3 }),
    ).toBe(77);
  });

  it('follows custom options', () => {
    const options = { baseDelayMs: 100, maxDelayMs: 1_000, factor: 3 };
    expect([0, 1, 2, 3].map((attempt) => backoffCeiling(attempt, options))).toEqual([
      100, 300, 900, 1_000,
    ]);
  });
});

describe('fullJitterBackoff', () => {
  it('spans the whole window from 0 to the ceiling', () => {
    expect(fullJitterBackoff(3, backoffDefaults, () => 0)).toBe(0);
    expect(fullJitterBackoff(3, backoffDefaults, () => 0.5)).toBe(4_000);
    expect(fullJitterBackoff(3, backoffDefaults, () => 0.999_999)).toBe(7_999);
  });

  it('is randomized by default and never leaves the window', () => {
    const delays = Array.from({ length: 200 }, () => fullJitterBackoff(4));
    expect(new Set(delays).size).toBeGreaterThan(50);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(16_000);
    }
  });

  it('never exceeds maxDelayMs, whatever the attempt', () => {
    for (let attempt = 0; attempt < 60; attempt += 1) {
      expect(fullJitterBackoff(attempt, backoffDefaults, () => 0.999_999)).toBeLessThan(30_000);
    }
  });
});

describe('parseRetryAfter', () => {
  it('reads delta seconds', () => {
    expect(parseRetryAfter('2')).toBe(2_000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    expect(parseRetryAfter('1.5')).toBe(1_500);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:03 GMT', now)).toBe(3_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
  });

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-3')).toBeUndefined();
  });
});
