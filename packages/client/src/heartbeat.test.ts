import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatTimer, heartbeatIntervalFor, MIN_HEARTBEAT_INTERVAL_MS } from './heartbeat.js';
import type { HeartbeatResult } from './protocol.js';

function result(sessionTimeoutMs: number): HeartbeatResult {
  return { lastActivity: new Date(0), expiresAt: new Date(sessionTimeoutMs), sessionTimeoutMs };
}

describe('heartbeatIntervalFor', () => {
  it('keeps the configured interval when the server timeout allows it', () => {
    expect(heartbeatIntervalFor(60_000, 60 * 60_000)).toBe(60_000);
  });

  it('lowers it to a third of the server timeout', () => {
    expect(heartbeatIntervalFor(60_000, 90_000)).toBe(30_000);
  });

  it('uses the configured interval before the timeout is known', () => {
    expect(heartbeatIntervalFor(45_000)).toBe(45_000);
  });

  it('never goes below the floor', () => {
    expect(heartbeatIntervalFor(60_000, 600)).toBe(MIN_HEARTBEAT_INTERVAL_MS);
    expect(heartbeatIntervalFor(10, 60_000)).toBe(MIN_HEARTBEAT_INTERVAL_MS);
  });

  it('leaves room for two missed beats of a tab throttled to one timer per minute', () => {
    // Chrome's intensive throttling runs a hidden tab's timers once per minute.
    const timeout = 60 * 60_000;
    const interval = heartbeatIntervalFor(5 * 60_000, timeout);
    const worstGap = 3 * (interval + 60_000);
    expect(worstGap).toBeLessThan(timeout);
  });
});

describe('HeartbeatTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('beats every interval, adapting to the server timeout, and reports the round trip', async () => {
    let clock = 0;
    const beat = vi.fn(async () => {
      clock += 7;
      return result(30_000);
    });
    const onBeat = vi.fn();
    const timer = new HeartbeatTimer({
      intervalMs: 60_000,
      beat,
      onBeat,
      onError: vi.fn(),
      now: () => clock,
    });
    timer.start();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(beat).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(beat).toHaveBeenCalledTimes(1);
    expect(onBeat).toHaveBeenLastCalledWith(
      expect.objectContaining({ rttMs: 7, intervalMs: 10_000 }),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect(beat).toHaveBeenCalledTimes(2);
    timer.stop();
  });

  it('keeps going after a failed beat and reports the failure', async () => {
    const beat = vi.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValue(result(60_000));
    const onError = vi.fn();
    const timer = new HeartbeatTimer({ intervalMs: 5_000, beat, onBeat: vi.fn(), onError });
    timer.start(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(onError).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(beat).toHaveBeenCalledTimes(2);
    timer.stop();
  });

  it('leaves no timer after stop(), even with a beat in flight', async () => {
    let finish: (value: HeartbeatResult) => void = () => {};
    const beat = vi.fn(() => new Promise<HeartbeatResult>((resolve) => (finish = resolve)));
    const onBeat = vi.fn();
    const timer = new HeartbeatTimer({ intervalMs: 1_000, beat, onBeat, onError: vi.fn() });
    timer.start(true);
    timer.stop();
    finish(result(60_000));
    await vi.advanceTimersByTimeAsync(0);
    expect(onBeat).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
    expect(timer.running).toBe(false);
  });
});
