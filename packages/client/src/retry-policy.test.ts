import { describe, expect, it } from 'vitest';
import { httpRetryDefaults } from './options.js';
import { type AttemptOutcome, CallRetries, httpRetryDelay } from './retry-policy.js';

const ID = '00000000-0000-4000-8000-000000000000';
const reset = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });

function answered(status: number, errorCode?: string, retryAfter?: string): AttemptOutcome {
  return { kind: 'answered', status, retryAfter, errorCode };
}

describe('CallRetries', () => {
  it('resends a replayable call once when its connection broke under it', () => {
    const retries = new CallRetries({ options: httpRetryDefaults, replayable: true });
    expect(retries.next({ kind: 'failed', error: reset }, ID)).toEqual({ action: 'resend' });
    expect(retries.next({ kind: 'failed', error: reset }, ID)).toEqual({ action: 'give-up' });
  });

  it('never resends other mutations, nor a call whose server could not be reached', () => {
    const mutation = new CallRetries({ options: httpRetryDefaults, replayable: false });
    expect(mutation.next({ kind: 'failed', error: reset }, ID).action).toBe('give-up');
    const query = new CallRetries({ options: httpRetryDefaults, replayable: true });
    expect(query.next({ kind: 'failed', error: refused }, ID).action).toBe('give-up');
  });

  it('waits Retry-After plus jitter on 503 and 429, up to maxRetries', () => {
    const retries = new CallRetries({ options: httpRetryDefaults, replayable: true });
    const delays: number[] = [];
    for (;;) {
      const decision = retries.next(answered(503, 'SERVER_AT_CAPACITY', '2'), ID);
      if (decision.action !== 'wait') {
        expect(decision.action).toBe('give-up');
        break;
      }
      delays.push(decision.delayMs);
    }
    expect(delays).toHaveLength(httpRetryDefaults.maxRetries);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(2_000);
    const limited = new CallRetries({ options: httpRetryDefaults, replayable: true });
    expect(limited.next(answered(429, 'RATE_LIMITED'), ID).action).toBe('wait');
  });

  it('does not retry a busy answer for a mutation that is not replayable', () => {
    const retries = new CallRetries({ options: httpRetryDefaults, replayable: false });
    expect(retries.next(answered(503, 'SERVER_AT_CAPACITY', '1'), ID).action).toBe('give-up');
  });

  it('replaces an unknown session once, for the id the call carried', () => {
    const retries = new CallRetries({ options: httpRetryDefaults, replayable: false });
    expect(retries.next(answered(404, 'SESSION_NOT_FOUND'), ID)).toEqual({
      action: 'replace',
      sessionId: ID,
    });
    expect(retries.next(answered(404, 'SESSION_NOT_FOUND'), ID).action).toBe('give-up');
  });

  it('replaces nothing without an id, for other 404s, or when the caller opted out', () => {
    const options = { options: httpRetryDefaults, replayable: true };
    expect(new CallRetries(options).next(answered(404, 'SESSION_NOT_FOUND'), undefined)).toEqual({
      action: 'give-up',
    });
    expect(new CallRetries(options).next(answered(404, 'ROUTE_NOT_FOUND'), ID).action).toBe(
      'give-up',
    );
    const internal = new CallRetries({ ...options, replaceSession: false });
    expect(internal.next(answered(404, 'SESSION_NOT_FOUND'), ID).action).toBe('give-up');
  });
});

describe('httpRetryDelay', () => {
  it('waits Retry-After plus jitter that grows per retry', () => {
    expect(httpRetryDelay(0, 2_000, httpRetryDefaults, () => 0)).toBe(2_000);
    expect(httpRetryDelay(0, 2_000, httpRetryDefaults, () => 0.999_999)).toBe(2_249);
    expect(httpRetryDelay(2, 1_000, httpRetryDefaults, () => 0.999_999)).toBe(1_999);
  });

  it('uses jitter alone without Retry-After', () => {
    expect(httpRetryDelay(1, undefined, httpRetryDefaults, () => 0.5)).toBe(250);
  });

  it('gives up after maxRetries or when Retry-After is longer than maxDelayMs', () => {
    expect(httpRetryDelay(3, 1_000, httpRetryDefaults)).toBeUndefined();
    expect(httpRetryDelay(0, 3_600_000, httpRetryDefaults)).toBeUndefined();
    expect(httpRetryDelay(0, 0, { ...httpRetryDefaults, maxRetries: 0 })).toBeUndefined();
  });

  it('never waits longer than maxDelayMs', () => {
    expect(httpRetryDelay(0, 10_000, httpRetryDefaults, () => 0.999)).toBe(10_000);
  });
});
