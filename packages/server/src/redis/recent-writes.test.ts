import { describe, expect, it } from 'vitest';
import { RecentWrites } from './recent-writes.js';

const T0 = 1_700_000_000_000;

describe('RecentWrites', () => {
  it('is recent for less than the resolution after a write', () => {
    const writes = new RecentWrites(1_000);
    expect(writes.isRecent('a', T0)).toBe(false);
    writes.record('a', T0);
    expect(writes.isRecent('a', T0)).toBe(true);
    expect(writes.isRecent('a', T0 + 999)).toBe(true);
    expect(writes.isRecent('a', T0 + 1_000)).toBe(false);
    expect(writes.isRecent('b', T0 + 1)).toBe(false);
  });

  it('keeps a write recent across a generation swap', () => {
    const writes = new RecentWrites(1_000);
    writes.record('first', T0);
    writes.record('a', T0 + 900);
    // T0 + 1_200 starts a new generation; 'a' moves to the previous one.
    expect(writes.isRecent('first', T0 + 1_200)).toBe(false);
    expect(writes.isRecent('a', T0 + 1_200)).toBe(true);
    expect(writes.isRecent('a', T0 + 1_899)).toBe(true);
    expect(writes.isRecent('a', T0 + 1_900)).toBe(false);
  });

  it('keeps the latest of writes that finish out of order', () => {
    const writes = new RecentWrites(1_000);
    writes.record('a', T0 + 500);
    writes.record('a', T0);
    expect(writes.isRecent('a', T0 + 1_499)).toBe(true);
  });

  it('forgets a session', () => {
    const writes = new RecentWrites(1_000);
    writes.record('a', T0);
    writes.forget('a');
    expect(writes.isRecent('a', T0 + 1)).toBe(false);
    expect(writes.size).toBe(0);
  });

  it('holds only the sessions written in the last two intervals', () => {
    const writes = new RecentWrites(1_000);
    for (let second = 0; second < 10; second += 1) {
      for (let i = 0; i < 100; i += 1) writes.record(`s${second}-${i}`, T0 + second * 1_000 + i);
    }
    expect(writes.size).toBeLessThanOrEqual(200);
    expect(writes.isRecent('s9-99', T0 + 9_098)).toBe(true);
    expect(writes.isRecent('s8-99', T0 + 9_098)).toBe(true);
    expect(writes.isRecent('s8-0', T0 + 9_098)).toBe(false);
    writes.isRecent('x', T0 + 20_000);
    expect(writes.size).toBe(0);
  });

  it('drops everything when time jumps back by more than the resolution', () => {
    const writes = new RecentWrites(1_000);
    writes.record('a', T0 + 10_000);
    expect(writes.isRecent('a', T0)).toBe(false);
    expect(writes.size).toBe(0);
  });

  it('never coalesces with a resolution of 0', () => {
    const writes = new RecentWrites(0);
    writes.record('a', T0);
    expect(writes.isRecent('a', T0)).toBe(false);
    expect(writes.size).toBe(0);
  });
});
