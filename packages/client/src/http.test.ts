import { describe, expect, it } from 'vitest';
import { isReplayable } from './http.js';
import { httpRetryDefaults } from './options.js';

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
