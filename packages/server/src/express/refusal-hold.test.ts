import { afterEach, describe, expect, it, vi } from 'vitest';
import { RefusalHold } from './refusal-hold.js';

afterEach(() => {
  vi.useRealTimers();
});

function client() {
  let onClose: (() => void) | undefined;
  return {
    register: (listener: () => void) => {
      onClose = listener;
    },
    hangUp: () => onClose?.(),
  };
}

describe('RefusalHold', () => {
  it('answers after the delay, or sooner when the refusal ends first', () => {
    vi.useFakeTimers();
    const hold = new RefusalHold({ delayMs: 1_000, maxPerAddress: 4, maxTotal: 10 });
    const answered: string[] = [];
    hold.hold('a', 5_000, client().register, () => answered.push('long'));
    hold.hold('a', 300, client().register, () => answered.push('short'));
    expect(hold.held).toBe(2);
    vi.advanceTimersByTime(299);
    expect(answered).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(answered).toEqual(['short']);
    vi.advanceTimersByTime(700);
    expect(answered).toEqual(['short', 'long']);
    expect(hold.held).toBe(0);
  });

  it('answers at once past its bounds, per address and in all, and with no delay', () => {
    vi.useFakeTimers();
    const hold = new RefusalHold({ delayMs: 1_000, maxPerAddress: 2, maxTotal: 3 });
    const answered: string[] = [];
    for (const name of ['a1', 'a2', 'a3'])
      hold.hold('a', 5_000, client().register, () => answered.push(name));
    expect(answered).toEqual(['a3']);
    hold.hold('b', 5_000, client().register, () => answered.push('b1'));
    hold.hold('c', 5_000, client().register, () => answered.push('c1'));
    expect(answered).toEqual(['a3', 'c1']);
    expect(hold.held).toBe(3);
    new RefusalHold({ delayMs: 0, maxPerAddress: 2, maxTotal: 3 }).hold(
      'd',
      5_000,
      client().register,
      () => answered.push('d1'),
    );
    expect(answered).toEqual(['a3', 'c1', 'd1']);
  });

  it('forgets a client that hangs up: its answer never runs and its place is free', () => {
    vi.useFakeTimers();
    const hold = new RefusalHold({ delayMs: 1_000, maxPerAddress: 1, maxTotal: 10 });
    const answered: string[] = [];
    const gone = client();
    hold.hold('a', 5_000, gone.register, () => answered.push('gone'));
    gone.hangUp();
    expect(hold.held).toBe(0);
    hold.hold('a', 5_000, client().register, () => answered.push('next'));
    vi.advanceTimersByTime(1_000);
    expect(answered).toEqual(['next']);
  });
});
