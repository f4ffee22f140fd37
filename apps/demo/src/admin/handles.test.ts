import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionHandles } from './handles.js';

describe('SessionHandles', () => {
  it('gives each id one stable handle that leads back to it, and shows nothing of the id', () => {
    const handles = new SessionHandles();
    const ids = Array.from({ length: 50 }, () => randomUUID());
    const issued = ids.map((id) => handles.handleOf(id));
    expect(new Set(issued).size).toBe(ids.length);
    for (const [i, id] of ids.entries()) {
      expect(handles.handleOf(id)).toBe(issued[i]);
      expect(handles.sessionIdOf(issued[i]!)).toBe(id);
      expect(issued[i]).toMatch(/^[\w-]+$/);
      expect(issued[i]).not.toContain(id.slice(0, 8));
    }
  });

  it('refuses handles of another process, altered ones and junk', () => {
    const handles = new SessionHandles();
    const id = randomUUID();
    const handle = handles.handleOf(id);
    expect(new SessionHandles().sessionIdOf(handle)).toBeUndefined();
    for (let i = 0; i < handle.length - 1; i += 7) {
      const flipped = `${handle.slice(0, i)}${handle[i] === 'A' ? 'B' : 'A'}${handle.slice(i + 1)}`;
      expect(handles.sessionIdOf(flipped)).toBeUndefined();
    }
    for (const junk of ['', 'abc', id, 'x'.repeat(86), 'x'.repeat(10_000), `${handle}=`, '../x'])
      expect(handles.sessionIdOf(junk)).toBeUndefined();
  });
});
