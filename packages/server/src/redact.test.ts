import { describe, expect, it } from 'vitest';
import { redact, redactError } from './redact.js';

describe('redact', () => {
  it('shortens session ids and hides URL passwords, leaving the rest', () => {
    expect(
      redact('session 5F0C2A8E-1b7d-4c3e-9a6f-2d8b7e4c1a90 via rediss://user:s3cr%40t@db:6380/0'),
    ).toBe('session 5F0C2A8E… via rediss://user:***@db:6380/0');
    expect(redact('redis://:pw@127.0.0.1:6379 and redis://127.0.0.1:6379')).toBe(
      'redis://:***@127.0.0.1:6379 and redis://127.0.0.1:6379',
    );
    expect(redact('nothing secret here')).toBe('nothing secret here');
  });

  it('redacts an error, its stack and its causes', () => {
    const cause = new Error('AUTH failed for redis://:hunter2@db:6379');
    const error = new Error('session 5f0c2a8e-1b7d-4c3e-9a6f-2d8b7e4c1a90 failed', { cause });
    const text = redactError(error);
    expect(text).toContain('5f0c2a8e…');
    expect(text).toContain('redis://:***@db:6379');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('2d8b7e4c1a90');
  });
});
