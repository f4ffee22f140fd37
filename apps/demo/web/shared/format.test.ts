import { describe, expect, it } from 'vitest';
import { niceMax } from '../admin/chart.js';
import { duration, shortId } from './format.js';

describe('format', () => {
  it('shortens ids and formats durations', () => {
    expect(shortId('0123456789abcdef')).toBe('01234567…');
    expect(shortId(undefined)).toBe('—');
    expect(duration(12.4)).toBe('12 ms');
    expect(duration(12_400)).toBe('12 s');
    expect(duration(185_000)).toBe('3 m 05 s');
    expect(duration(2 * 3_600_000 + 4 * 60_000)).toBe('2 h 04 m');
  });

  it('rounds chart maxima up to readable values', () => {
    expect([0, 3, 4.5, 7, 11, 23, 26, 51, 99, 101].map(niceMax)).toEqual([
      4, 4, 5, 10, 20, 25, 50, 100, 100, 200,
    ]);
  });
});
