import { describe, expect, it } from 'vitest';
import { MAX_REMEMBERED_ROTATIONS, RecentRotations, ROTATION_MEMORY_MS } from './rotations.js';

describe('RecentRotations', () => {
  it('answers the new id within the memory time, and nothing after it', () => {
    const rotations = new RecentRotations();
    rotations.remember('old', 'new', 1_000);
    expect(rotations.get('old', 1_000 + ROTATION_MEMORY_MS)).toBe('new');
    expect(rotations.get('old', 1_001 + ROTATION_MEMORY_MS)).toBeUndefined();
    expect(rotations.get('other', 1_000)).toBeUndefined();
  });

  it('forgets expired rotations as new ones arrive, and never holds more than the cap', () => {
    const rotations = new RecentRotations();
    rotations.remember('a', 'a2', 0);
    rotations.remember('b', 'b2', ROTATION_MEMORY_MS + 1);
    expect(rotations.size).toBe(1);
    for (let i = 0; i < MAX_REMEMBERED_ROTATIONS + 10; i += 1) {
      rotations.remember(`s${i}`, `n${i}`, ROTATION_MEMORY_MS + 2);
    }
    expect(rotations.size).toBe(MAX_REMEMBERED_ROTATIONS);
    expect(rotations.get(`s${MAX_REMEMBERED_ROTATIONS + 9}`, ROTATION_MEMORY_MS + 2)).toBe(
      `n${MAX_REMEMBERED_ROTATIONS + 9}`,
    );
    expect(rotations.get('s0', ROTATION_MEMORY_MS + 2)).toBeUndefined();
  });
});
