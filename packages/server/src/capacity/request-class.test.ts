import { describe, expect, it } from 'vitest';
import { batchPathClass, procedureClass } from './request-class.js';

describe('request classes', () => {
  it('Morgan session procedures are session control, others app traffic', () => {
    expect(procedureClass('session.heartbeat')).toBe('control');
    expect(procedureClass('session.create')).toBe('control');
    expect(procedureClass('chat.send')).toBe('app');
    expect(procedureClass('sessions.list')).toBe('app');
    expect(procedureClass('')).toBe('app');
  });

  it('a tRPC batch is session control only when every call in it is', () => {
    expect(batchPathClass('session.heartbeat')).toBe('control');
    expect(batchPathClass('session.get,session.heartbeat')).toBe('control');
    expect(batchPathClass('session.get,chat.send')).toBe('app');
    expect(batchPathClass('chat.send,session.get')).toBe('app');
    expect(batchPathClass('session.get,')).toBe('app');
    expect(batchPathClass('')).toBe('app');
  });

  it('reads from an offset without cutting the path', () => {
    expect(batchPathClass('/trpc/session.heartbeat', 6)).toBe('control');
    expect(batchPathClass('/trpc/chat.send', 6)).toBe('app');
  });
});
