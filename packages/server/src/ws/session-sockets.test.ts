import { describe, expect, it } from 'vitest';
import { SessionSockets } from './session-sockets.js';

describe('SessionSockets', () => {
  it('holds one socket per session, then a set past one, and back', () => {
    const sockets = new SessionSockets<string>();
    sockets.add('s', 'a');
    sockets.add('s', 'a');
    expect(sockets.of('s')).toEqual(['a']);
    sockets.add('s', 'b');
    sockets.add('s', 'c');
    expect(sockets.of('s').sort()).toEqual(['a', 'b', 'c']);
    sockets.remove('s', 'b');
    sockets.remove('s', 'a');
    expect(sockets.of('s')).toEqual(['c']);
    sockets.remove('s', 'a');
    expect(sockets.of('s')).toEqual(['c']);
    sockets.add('s', 'd');
    expect(sockets.of('s').sort()).toEqual(['c', 'd']);
    sockets.remove('s', 'c');
    sockets.remove('s', 'd');
    expect(sockets.of('s')).toEqual([]);
    expect(sockets.of('other')).toEqual([]);
  });

  it('throttles touches per session, and forgets a session once its last socket is gone', () => {
    const sockets = new SessionSockets<string>();
    expect(sockets.dueForTouch('s', 0, 100)).toBe(false); // no socket
    sockets.add('s', 'a');
    expect(sockets.dueForTouch('s', 1000, 100)).toBe(true);
    expect(sockets.dueForTouch('s', 1050, 100)).toBe(false);
    expect(sockets.dueForTouch('s', 1100, 100)).toBe(true);
    sockets.remove('s', 'a');
    sockets.add('s', 'b');
    expect(sockets.dueForTouch('s', 1150, 100)).toBe(true);
  });
});
