import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import {
  GradientLimit,
  type GradientLimitOptions,
  gradientLimitDefaults,
} from './gradient-limit.js';

/** A clock the test moves by hand, with a fixed "random" value. */
function fakeClock(random = 0.5) {
  const clock = { ms: 0, random: () => random, now: () => clock.ms };
  return clock;
}

type Clock = ReturnType<typeof fakeClock>;

/**
 * Feeds one window of `count` completed requests of `latencyMs` each, spread
 * over `spanMs`, each ending with `inFlight` requests holding slots (by
 * default the limit: the node is busy).
 */
function feed(
  law: GradientLimit,
  clock: Clock,
  latencyMs: number | ((i: number) => number),
  options: { inFlight?: number; count?: number; spanMs?: number } = {},
): void {
  const { count = 20, spanMs = 250 } = options;
  for (let i = 0; i < count; i += 1) {
    clock.ms += spanMs / count;
    const latency = typeof latencyMs === 'number' ? latencyMs : latencyMs(i);
    law.sample(latency, clock.ms - latency, options.inFlight ?? law.limit);
  }
}

/** A law with probes far away unless asked for, so that windows alone move it. */
function setup(options: GradientLimitOptions = {}, random = 0.5) {
  const clock = fakeClock(random);
  const law = new GradientLimit({ probeIntervalMs: 3_600_000, ...options }, clock);
  return { clock, law };
}

describe('GradientLimit', () => {
  it('has documented defaults and starts at initialLimit', () => {
    expect(gradientLimitDefaults).toMatchObject({
      minLimit: 10,
      maxLimit: 1000,
      initialLimit: 20,
      windowMs: 250,
      tolerance: 1.5,
      smoothing: 0.2,
      probeIntervalMs: 30_000,
    });
    const law = new GradientLimit({}, fakeClock());
    expect(law.limit).toBe(20);
    expect(law.baselineMs).toBeUndefined();
    expect(law.probing).toBe(false);
  });

  it('rises while latency stays flat and the limit is used', () => {
    const { clock, law } = setup({ maxLimit: 10_000 });
    const limits = [law.limit];
    for (let window = 0; window < 20; window += 1) {
      feed(law, clock, 10);
      limits.push(law.limit);
    }
    expect(law.baselineMs).toBe(10);
    for (let i = 1; i < limits.length; i += 1) {
      expect(limits[i]).toBeGreaterThan(limits[i - 1] as number);
    }
    expect(law.limit).toBeGreaterThan(100);
  });

  it('does not rise while most slots are idle (flat latency at low load says nothing)', () => {
    const { clock, law } = setup();
    for (let window = 0; window < 20; window += 1) feed(law, clock, 10, { inFlight: 3 });
    expect(law.limit).toBe(20);
  });

  it('falls while latency grows, and rises again once it is back', () => {
    const { clock, law } = setup();
    for (let window = 0; window < 10; window += 1) feed(law, clock, 10);
    const before = law.limit;
    const limits: number[] = [];
    for (let window = 0; window < 5; window += 1) {
      feed(law, clock, 10 + 10 * (window + 1));
      limits.push(law.limit);
    }
    expect(limits[0]).toBeLessThan(before);
    for (let i = 1; i < limits.length; i += 1) {
      expect(limits[i]).toBeLessThan(limits[i - 1] as number);
    }
    const low = law.limit;
    for (let window = 0; window < 5; window += 1) feed(law, clock, 10);
    expect(law.limit).toBeGreaterThan(low);
  });

  it('holds still where latency sits at tolerance × baseline', () => {
    const { clock, law } = setup();
    feed(law, clock, 10);
    const before = law.limit;
    for (let window = 0; window < 10; window += 1) feed(law, clock, 15);
    expect(law.limit).toBe(before);
  });

  it('one slow request in a window does not move the limit down', () => {
    const { clock, law } = setup();
    for (let window = 0; window < 5; window += 1) feed(law, clock, 10);
    const before = law.limit;
    feed(law, clock, (i) => (i === 7 ? 5_000 : 10));
    expect(law.limit).toBeGreaterThanOrEqual(before);
  });

  it('one bad window cuts the limit by at most a tenth (smoothing, gradient ≥ 0.5)', () => {
    const { clock, law } = setup();
    for (let window = 0; window < 10; window += 1) feed(law, clock, 10);
    const before = law.limit;
    feed(law, clock, 10_000);
    expect(law.limit).toBeGreaterThanOrEqual(Math.floor(before * 0.9));
    expect(law.limit).toBeLessThan(before);
  });

  it('stays within minLimit and maxLimit', () => {
    const { clock, law } = setup({ minLimit: 5, maxLimit: 60, initialLimit: 30 });
    for (let window = 0; window < 200; window += 1) {
      feed(law, clock, 10);
      expect(law.limit).toBeLessThanOrEqual(60);
    }
    expect(law.limit).toBe(60);
    for (let window = 0; window < 200; window += 1) {
      feed(law, clock, 1_000);
      if (!law.probing) expect(law.limit).toBeGreaterThanOrEqual(5);
    }
    expect(law.limit).toBeGreaterThanOrEqual(5);
  });

  it('a window waits for enough samples and for its span', () => {
    const { clock, law } = setup({ windowSamples: 20, windowMs: 250 });
    feed(law, clock, 10, { count: 10, spanMs: 1_000 });
    expect(law.baselineMs).toBeUndefined();
    feed(law, clock, 10, { count: 10, spanMs: 1 });
    expect(law.baselineMs).toBe(10);
  });

  it('ignores samples that are not latencies', () => {
    const { clock, law } = setup();
    feed(law, clock, Number.NaN);
    feed(law, clock, -1);
    expect(law.baselineMs).toBeUndefined();
    expect(law.limit).toBe(20);
  });

  it('rejects options out of range', () => {
    expect(() => new GradientLimit({ minLimit: 0 })).toThrow(ConfigError);
    expect(() => new GradientLimit({ minLimit: 50, maxLimit: 20 })).toThrow(/capacity\.maxLimit/);
    expect(() => new GradientLimit({ tolerance: 0.5 })).toThrow(/capacity\.tolerance/);
    expect(() => new GradientLimit({ smoothing: 0 })).toThrow(/capacity\.smoothing/);
    expect(() => new GradientLimit({ latencyPercentile: 101 })).toThrow(ConfigError);
    expect(() => new GradientLimit({ probeFactor: 0 })).toThrow(ConfigError);
  });
});

describe('GradientLimit probes of the no-load latency', () => {
  it('lowers the limit for a probe at a jittered time, then restores it with a new baseline', () => {
    const { clock, law } = setup({ probeIntervalMs: 10_000, probeJitter: 0.2, maxLimit: 80 }, 0.5);
    // First probe due at 10 s × (1 + 0.2 × 0.5) = 11 s.
    while (clock.ms < 10_750) feed(law, clock, 10);
    expect(law.probing).toBe(false);
    const before = law.limit;
    expect(before).toBe(80);
    feed(law, clock, 10, { count: 20, spanMs: 250 });
    expect(law.probing).toBe(true);
    expect(law.limit).toBe(40);
    // The upstream got slower meanwhile: the probe measures 20 ms at low load.
    feed(law, clock, 20, { count: 30, spanMs: 250 });
    expect(law.probing).toBe(false);
    expect(law.baselineMs).toBe(20);
    expect(law.limit).toBe(before);
    // 20 ms is the new normal, so the limit does not fall for it.
    feed(law, clock, 20);
    expect(law.limit).toBeGreaterThanOrEqual(before);
  });

  it('spreads probes by the jitter', () => {
    const at = (random: number) => {
      const { clock, law } = setup({ probeIntervalMs: 10_000, probeJitter: 0.5 }, random);
      while (!law.probing) feed(law, clock, 10, { count: 20, spanMs: 100 });
      return clock.ms;
    };
    expect(at(0)).toBeLessThan(at(0.9));
    expect(at(0.9)).toBeGreaterThanOrEqual(14_500);
  });

  it('never pins the limit to 1', () => {
    const { clock, law } = setup({
      minLimit: 1,
      initialLimit: 3,
      maxLimit: 3,
      probeIntervalMs: 1_000,
    });
    while (!law.probing) feed(law, clock, 10, { inFlight: 3 });
    expect(law.limit).toBe(2);
  });

  it('counts only requests that started once the slots had drained to the probe limit', () => {
    const { clock, law } = setup({ probeIntervalMs: 1_000, initialLimit: 40, maxLimit: 40 });
    while (!law.probing) feed(law, clock, 10);
    expect(law.limit).toBe(20);
    // Requests admitted before the probe, still ending at high concurrency.
    feed(law, clock, 50, { inFlight: 40, count: 50 });
    expect(law.probing).toBe(true);
    feed(law, clock, 10, { inFlight: 20, count: 25 });
    expect(law.probing).toBe(false);
    expect(law.baselineMs).toBe(10);
    expect(law.limit).toBe(40);
  });

  it('a probe that cannot drain ends after probeTimeoutMs and leaves the baseline alone', () => {
    const { clock, law } = setup({ probeIntervalMs: 1_000, probeTimeoutMs: 500, maxLimit: 30 });
    while (!law.probing) feed(law, clock, 10);
    expect(law.limit).toBe(15);
    clock.ms += 400;
    law.refresh();
    expect(law.probing).toBe(true);
    clock.ms += 100;
    law.refresh();
    expect(law.probing).toBe(false);
    expect(law.limit).toBe(30);
    expect(law.baselineMs).toBe(10);
  });

  it('probes early when the limit has sat at minLimit (a stale baseline), and recovers', () => {
    const { clock, law } = setup({ minLimit: 10, initialLimit: 40, maxLimit: 40 });
    for (let window = 0; window < 3; window += 1) feed(law, clock, 10);
    // Every request now takes 40 ms, whatever the concurrency.
    let windows = 0;
    while (!law.probing && windows < 100) {
      feed(law, clock, 40);
      windows += 1;
    }
    expect(law.probing).toBe(true);
    while (law.probing) feed(law, clock, 40);
    expect(law.baselineMs).toBe(40);
    for (let window = 0; window < 30; window += 1) feed(law, clock, 40);
    expect(law.limit).toBe(40);
  });
});
