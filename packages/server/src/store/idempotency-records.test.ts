import { describe, expect, it } from 'vitest';
import { IdempotencyRecords, memoryIdempotencyLimits } from './idempotency-records.js';

const FP = 'f'.repeat(64);

describe('IdempotencyRecords', () => {
  it('allocates nothing for a session until it claims a key, and frees it when its last claim is released', () => {
    const records = new IdempotencyRecords();
    expect(records.sessionCount).toBe(0);
    records.claim('s', 'k', FP, 0);
    expect(records.sessionCount).toBe(1);
    records.release('s', 'k');
    expect(records.sessionCount).toBe(0);
    // Completing or releasing what was never claimed does nothing.
    records.complete('s', 'k', 'out', 0);
    records.release('other', 'k');
    expect(records.sessionCount).toBe(0);
  });

  it('drops expired records from the front at the next claim', () => {
    const records = new IdempotencyRecords();
    records.windowMs = 100;
    records.claim('s', 'a', FP, 0);
    records.claim('s', 'b', FP, 50);
    records.complete('s', 'a', 'out-a', 60); // a now lives until 160
    records.claim('s', 'c', FP, 155); // b (until 150) is gone, a is not
    expect(records.keyCount('s')).toBe(2);
    expect(records.claim('s', 'a', FP, 155)).toEqual({
      state: 'done',
      fingerprint: FP,
      outcome: 'out-a',
    });
    expect(records.claim('s', 'b', FP, 155)).toEqual({ state: 'new' });
  });

  it('sweeps expired records of every session, and the sessions left without one', () => {
    const records = new IdempotencyRecords();
    records.windowMs = 100;
    records.claim('gone', 'a', FP, 0);
    records.claim('kept', 'a', FP, 0);
    records.claim('kept', 'b', FP, 50);
    records.sweep(120);
    expect(records.sessionCount).toBe(1);
    expect(records.keyCount('gone')).toBe(0);
    expect(records.keyCount('kept')).toBe(1);
    records.sweep(150);
    expect(records.sessionCount).toBe(0);
  });

  it('keeps at most maxKeysPerSession keys per session, dropping the oldest', () => {
    const records = new IdempotencyRecords();
    const { maxKeysPerSession } = memoryIdempotencyLimits;
    for (let i = 0; i <= maxKeysPerSession; i += 1) records.claim('s', `k${i}`, FP, 0);
    expect(records.keyCount('s')).toBe(maxKeysPerSession);
    expect(records.claim('s', 'k0', FP, 0)).toEqual({ state: 'new' }); // dropped, claimed anew
    expect(records.claim('s', `k${maxKeysPerSession}`, FP, 0).state).toBe('pending');
  });

  it('keeps at most maxCharsPerSession characters per session, dropping the oldest', () => {
    const records = new IdempotencyRecords();
    const outcome = 'x'.repeat(64 * 1024);
    const fits = Math.floor(memoryIdempotencyLimits.maxCharsPerSession / (outcome.length + 100));
    for (let i = 0; i < fits + 5; i += 1) {
      records.claim('s', `k${i}`, FP, 0);
      records.complete('s', `k${i}`, outcome, 0);
    }
    expect(records.keyCount('s')).toBeLessThanOrEqual(fits);
    expect(records.keyCount('s')).toBeGreaterThan(fits - 3);
    expect(records.claim('s', `k${fits + 4}`, FP, 0).state).toBe('done');
    expect(records.claim('s', 'k0', FP, 0).state).toBe('new');
    // Another session is untouched by this one's bound.
    records.claim('t', 'k', FP, 0);
    expect(records.keyCount('t')).toBe(1);
  });
});
