import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GradientLimit, type GradientLimitOptions } from './capacity/gradient-limit.js';
import { CapacityLimiter, capacityLimiterDefaults, createCapacityLimiter } from './capacity.js';
import { ConfigError } from './errors.js';

/** A clock the test moves by hand. */
function fakeClock() {
  const clock = { ms: 0, random: () => 0.5, now: () => clock.ms };
  return clock;
}

describe('CapacityLimiter without a queue', () => {
  it('has the documented defaults', () => {
    expect(capacityLimiterDefaults).toEqual({
      maxConcurrent: 100,
      maxQueue: 0,
      maxQueueWaitMs: 0,
      controlHeadroom: 0.1,
    });
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

  it('session control may take a headroom past the limit (a tenth of it, rounded down)', () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 20 });
    expect(limiter.mode).toBe('static');
    expect(limiter.limit).toBe(20);
    for (let i = 0; i < 20; i += 1) expect(limiter.tryAcquire('app')).toBe(true);
    expect(limiter.tryAcquire('app')).toBe(false);
    expect(limiter.tryAcquire()).toBe(false);
    expect(limiter.tryAcquire('control')).toBe(true);
    expect(limiter.tryAcquire('control')).toBe(true);
    expect(limiter.tryAcquire('control')).toBe(false);
    limiter.release();
    limiter.release();
    limiter.release();
    // Session control in flight counts against app traffic too.
    expect(limiter.tryAcquire('app')).toBe(true);
    expect(limiter.tryAcquire('app')).toBe(false);
  });

  it('below 10 slots there is no headroom; controlHeadroom sets its share', () => {
    const small = new CapacityLimiter({ maxConcurrent: 9 });
    for (let i = 0; i < 9; i += 1) small.tryAcquire();
    expect(small.tryAcquire('control')).toBe(false);
    const wide = new CapacityLimiter({ maxConcurrent: 4, controlHeadroom: 0.5 });
    for (let i = 0; i < 4; i += 1) wide.tryAcquire();
    expect(wide.tryAcquire('control')).toBe(true);
    expect(wide.tryAcquire('control')).toBe(true);
    expect(wide.tryAcquire('control')).toBe(false);
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

  it('a freed slot goes to a waiting session-control request before earlier app waiters', async () => {
    const limiter = new CapacityLimiter({ maxConcurrent: 1, maxQueue: 2, maxQueueWaitMs: 1000 });
    expect(limiter.acquire()).toBe(true);
    const order: string[] = [];
    const app = Promise.resolve(limiter.acquire('app')).then((ok) => order.push(`app:${ok}`));
    const control = Promise.resolve(limiter.acquire('control')).then((ok) =>
      order.push(`control:${ok}`),
    );
    limiter.release();
    await control;
    expect(order).toEqual(['control:true']);
    limiter.release();
    await app;
    expect(order).toEqual(['control:true', 'app:true']);
    expect(limiter.inFlight).toBe(1);
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

describe('CapacityLimiter with an adaptive limit', () => {
  function adaptive(options: GradientLimitOptions = {}) {
    const clock = fakeClock();
    const law = new GradientLimit({ probeIntervalMs: 3_600_000, ...options }, clock);
    const limiter = new CapacityLimiter({ adaptive: law, now: clock.now });
    /** Admits as many as the limit allows, lets `latencyMs` pass, releases them as completed. */
    const round = (latencyMs: number, complete = true) => {
      const admitted: number[] = [];
      while (limiter.tryAcquire()) admitted.push(clock.ms);
      clock.ms += latencyMs;
      for (const startedAt of admitted) limiter.release(complete ? startedAt : undefined);
      return admitted.length;
    };
    return { clock, law, limiter, round };
  }

  it('admits up to the live limit, and learns from completed requests', () => {
    const { limiter, round } = adaptive({ windowMs: 10, windowSamples: 20 });
    expect(limiter.mode).toBe('adaptive');
    expect(round(10)).toBe(20);
    const grown = limiter.limit;
    expect(grown).toBeGreaterThan(20);
    expect(round(10)).toBe(grown);
  });

  it('rejected and cancelled requests are not samples', () => {
    const { clock, law, limiter, round } = adaptive({ windowMs: 10, windowSamples: 20 });
    round(10);
    const limit = limiter.limit;
    // A storm of refusals while slots are held, then the holders go away.
    const held: number[] = [];
    while (limiter.tryAcquire()) held.push(clock.ms);
    for (let i = 0; i < 10_000; i += 1) expect(limiter.acquire()).toBe(false);
    clock.ms += 5_000;
    for (const _ of held) limiter.release();
    for (let i = 0; i < 10; i += 1) round(5_000, false);
    expect(limiter.shedCount).toBe(10_000);
    expect(limiter.limit).toBe(limit);
    expect(law.baselineMs).toBe(10);
  });

  it('createCapacityLimiter builds the mode asked for, and checks its options', () => {
    expect(createCapacityLimiter({ maxConcurrent: 7 }).mode).toBe('static');
    const adaptive = createCapacityLimiter(
      { maxConcurrent: 7 },
      { mode: 'adaptive', initialLimit: 40 },
    );
    expect(adaptive.mode).toBe('adaptive');
    expect(adaptive.limit).toBe(40);
    expect(() => createCapacityLimiter({ maxConcurrent: 7 }, { mode: 'fast' as 'static' })).toThrow(
      ConfigError,
    );
    expect(() => createCapacityLimiter({ maxConcurrent: 7 }, { controlHeadroom: 2 })).toThrow(
      /capacity\.controlHeadroom/,
    );
    expect(() =>
      createCapacityLimiter({ maxConcurrent: 7 }, { mode: 'adaptive', minLimit: 0 }),
    ).toThrow(/capacity\.minLimit/);
  });

  it('session control keeps its headroom past the adaptive limit', () => {
    const { limiter } = adaptive({ initialLimit: 20 });
    for (let i = 0; i < 20; i += 1) expect(limiter.tryAcquire('app')).toBe(true);
    expect(limiter.tryAcquire('app')).toBe(false);
    expect(limiter.tryAcquire('control')).toBe(true);
    expect(limiter.tryAcquire('control')).toBe(true);
    expect(limiter.tryAcquire('control')).toBe(false);
  });
});
