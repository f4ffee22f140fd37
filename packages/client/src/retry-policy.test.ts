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

describe('CallRetries of keyed mutations', () => {
  const keyed = () =>
    new CallRetries({
      options: httpRetryDefaults,
      replayable: false,
      keyed: true,
      mayHaveRun: true,
    });

  it('resends after a connection that broke, one that could not open, and a socket closed under it', () => {
    const retries = keyed();
    expect(retries.next({ kind: 'failed', error: reset }, ID)).toEqual({ action: 'resend' });
    const closed = { name: 'TRPCClientError', message: 'Unknown error', cause: {} };
    for (const error of [refused, reset, closed]) {
      expect(retries.next({ kind: 'failed', error }, ID).action).toBe('wait');
    }
    // Within maxRetries: the fourth lost attempt gives up.
    expect(retries.next({ kind: 'failed', error: refused }, ID).action).toBe('give-up');
  });

  it('never resends after the client itself was closed', () => {
    const error = { message: 'closed', cause: { code: 'CLIENT_CLOSED' } };
    expect(keyed().next({ kind: 'failed', error }, ID).action).toBe('give-up');
  });

  it('waits at least a second on 409 REQUEST_IN_PROGRESS, and retries 503 like a replayable call', () => {
    const retries = keyed();
    const decision = retries.next(answered(409, 'REQUEST_IN_PROGRESS'), ID);
    expect(decision.action).toBe('wait');
    expect((decision as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(1_000);
    expect(retries.next(answered(503, 'SERVER_AT_CAPACITY', '1'), ID).action).toBe('wait');
    // Another 409 is the app's: reported.
    expect(keyed().next(answered(409, 'CONFLICT'), ID).action).toBe('give-up');
  });

  it('replaces the session only when the server says the mutation never started', () => {
    expect(keyed().next(answered(404, 'SESSION_NOT_FOUND'), ID)).toEqual({
      action: 'give-up',
      sessionLost: true,
    });
    const notStarted: AttemptOutcome = {
      kind: 'answered',
      status: 404,
      retryAfter: undefined,
      errorCode: 'SESSION_NOT_FOUND',
      notStarted: true,
    };
    expect(keyed().next(notStarted, ID)).toEqual({ action: 'replace', sessionId: ID });
    // Queries may always be sent again under a new session.
    const query = new CallRetries({ options: httpRetryDefaults, replayable: true });
    expect(query.next(answered(404, 'SESSION_NOT_FOUND'), ID)).toEqual({
      action: 'replace',
      sessionId: ID,
    });
  });
});
