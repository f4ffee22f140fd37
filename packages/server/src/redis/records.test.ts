import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import { toStoreError } from './records.js';

describe('toStoreError', () => {
  it('keeps the driver’s text out of the message (error bodies) and in the cause (logs)', () => {
    const driver = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:6379'), {
      code: 'ECONNREFUSED',
    });
    const error = toStoreError(driver);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error.message).toBe('Redis is unavailable');
    expect(error.message).not.toContain('10.0.0.7');
    expect(error.cause).toBe(driver);
  });

  it('passes a script error through: it is a bug, not an outage', () => {
    const reply = new ReplyError(
      'ERR user_script:1: Script attempted to access nonexistent global',
    );
    expect(toStoreError(reply)).toBe(reply);
    expect(toStoreError(new ReplyError('LOADING Redis is loading'))).toBeInstanceOf(
      StoreUnavailableError,
    );
  });
});
