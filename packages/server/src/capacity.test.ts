import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CapacityLimiter, capacityLimiterDefaults } from './capacity.js';

describe('CapacityLimiter without a queue', () => {
  it('has the documented defaults', () => {
    expect(capacityLimiterDefaults).toEqual({ maxConcurrent: 100, maxQueue: 0, maxQueueWaitMs: 0 });
    expect(new CapacityLimiter()).toMatchObject(capacityLimiterDefaults);
  });

  it('admits up to maxConcurrent and frees a slot on release', () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 2 });
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    expect(limiter.inFlight).toBe(2);
    limiter.release();
    expect(limiter.inFlight).toBe(1);
    expect(limiter.tryAcquire()).toBe(true);
  });

  it('tryAcquire refuses without counting a shed; acquire sheds and counts', () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 1 });
    expect(limiter.acquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    expect(limiter.shedCount).toBe(0);
    expect(limiter.acquire()).toBe(false);
    expect(limiter.acquire()).toBe(false);
    limiter.recordShed();
    expect(limiter.shedCount).toBe(3);
    expect(limiter.inFlight).toBe(1);
  });

  it('never counts below zero', () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 1 });
    limiter.release();
    limiter.release();
    expect(limiter.inFlight).toBe(0);
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
  });

  it('suggests a Retry-After of whole seconds', () => {
    const seconds = new CapacityLimiter().retryAfterSeconds();
    expect(Number.isInteger(seconds)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(1);
  });
});

describe('CapacityLimiter with a queue (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands released slots to waiters in arrival order', async () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 1, maxQueue: 2, maxQueueWaitMs: 1000 });
    expect(limiter.acquire()).toBe(true);
    const order: string[] = [];
    const first = Promise.resolve(limiter.acquire()).then((ok) => order.push(`first:${ok}`));
    const second = Promise.resolve(limiter.acquire()).then((ok) => order.push(`second:${ok}`));
    expect(limiter.queued).toBe(2);
    limiter.release();
    await first;
    expect(order).toEqual(['first:true']);
    expect(limiter.inFlight).toBe(1);
    limiter.release();
    await second;
    expect(order).toEqual(['first:true', 'second:true']);
    expect(limiter.inFlight).toBe(1);
    expect(limiter.queued).toBe(0);
    expect(limiter.shedCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sheds at once when the queue is full', () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 1, maxQueue: 1, maxQueueWaitMs: 1000 });
    limiter.acquire();
    const waiting = limiter.acquire();
    expect(waiting).toBeInstanceOf(Promise);
    expect(limiter.acquire()).toBe(false);
    expect(limiter.shedCount).toBe(1);
    expect(limiter.queued).toBe(1);
  });

  it('sheds a waiter at its deadline and counts it', async () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 1, maxQueue: 5, maxQueueWaitMs: 500 });
    limiter.acquire();
    let outcome: boolean | undefined;
    void Promise.resolve(limiter.acquire()).then((ok) => {
      outcome = ok;
    });
    await vi.advanceTimersByTimeAsync(499);
    expect(outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toBe(false);
    expect(limiter.queued).toBe(0);
    expect(limiter.shedCount).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    limiter.release();
    expect(limiter.inFlight).toBe(0);
  });

  it('a queue without a wait time sheds at once', () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 1, maxQueue: 5 });
    limiter.acquire();
    expect(limiter.acquire()).toBe(false);
    expect(limiter.queued).toBe(0);
  });

  it('the queue timer is unref’d', () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 1, maxQueue: 1, maxQueueWaitMs: 500 });
    limiter.acquire();
    const unref = vi.spyOn(globalThis, 'setTimeout');
    void limiter.acquire();
    const timer = unref.mock.results[0]?.value as { hasRef(): boolean };
    expect(timer.hasRef()).toBe(false);
    unref.mockRestore();
  });
});
