import { describe, expect, it } from 'vitest';
import { httpRetryDelay, isReplayable } from './http.js';
import { httpRetryDefaults } from './options.js';

describe('httpRetryDelay', () => {
  it('waits Retry-After plus jitter that grows per retry', () => {
    expect(httpRetryDelay(0, 2_000, httpRetryDefaults, () => 0)).toBe(2_000);
    expect(httpRetryDelay(0, 2_000, httpRetryDefaults, () => 0.999_999)).toBe(2_249);
    expect(httpRetryDelay(2, 1_000, httpRetryDefaults, () => 0.999_999)).toBe(1_999);
  });

  it('uses jitter alone without Retry-After', () => {
    expect(httpRetryDelay(1, undefined, httpRetryDefaults, () => 0.5)).toBe(250);
  });

  it('gives up after maxRetries or when Retry-After is longer than maxDelayMs', () => {
    expect(httpRetryDelay(3, 1_000, httpRetryDefaults)).toBeUndefined();
    expect(httpRetryDelay(0, 3_600_000, httpRetryDefaults)).toBeUndefined();
    expect(httpRetryDelay(0, 0, { ...httpRetryDefaults, maxRetries: 0 })).toBeUndefined();
  });

  it('never waits longer than maxDelayMs', () => {
    expect(httpRetryDelay(0, 10_000, httpRetryDefaults, () => 0.999)).toBe(10_000);
  });
});

describe('isReplayable', () => {
  it('replays queries', () => {
    expect(isReplayable('query', 'session.get', undefined, httpRetryDefaults)).toBe(true);
  });

  it('does not replay mutations unless marked idempotent by context or path', () => {
    expect(isReplayable('mutation', 'chat.send', undefined, httpRetryDefaults)).toBe(false);
    expect(isReplayable('mutation', 'chat.send', { idempotent: true }, httpRetryDefaults)).toBe(
      true,
    );
    const options = { ...httpRetryDefaults, idempotentPaths: ['cart.set'] };
    expect(isReplayable('mutation', 'cart.set', {}, options)).toBe(true);
    expect(isReplayable('mutation', 'cart.add', {}, options)).toBe(false);
  });

  it('never replays subscriptions here', () => {
    expect(
      isReplayable('subscription', 'session.events', { idempotent: true }, httpRetryDefaults),
    ).toBe(false);
  });
});
