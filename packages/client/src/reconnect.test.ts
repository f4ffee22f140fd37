import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReconnectScheduler } from './reconnect.js';

function scheduler(maxAttempts = Number.POSITIVE_INFINITY) {
  const onSchedule = vi.fn();
  const instance = new ReconnectScheduler({
    delayMs: (attempt) => 1_000 * 2 ** attempt,
    maxAttempts,
    onSchedule,
  });
  return { instance, onSchedule };
}

describe('ReconnectScheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits the delay of each attempt, growing until reset', async () => {
    const { instance, onSchedule } = scheduler();
    const first = vi.fn();
    void instance.wait().then(first);
    await vi.advanceTimersByTimeAsync(999);
    expect(first).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(first).toHaveBeenCalled();
    void instance.wait();
    expect(onSchedule).toHaveBeenLastCalledWith(1, 2_000);
    await vi.advanceTimersByTimeAsync(2_000);
    instance.reset();
    void instance.wait();
    expect(onSchedule).toHaveBeenLastCalledWith(0, 1_000);
    await vi.advanceTimersByTimeAsync(1_000);
  });

  it('lets a waiting attempt go at once on wake() (online) and restarts from attempt 0', async () => {
    const { instance, onSchedule } = scheduler();
    void instance.wait();
    await vi.advanceTimersByTimeAsync(1_000);
    const second = vi.fn();
    void instance.wait().then(second);
    instance.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
    const third = instance.wait();
    expect(onSchedule).toHaveBeenLastCalledWith(0, 1_000);
    instance.close();
    await expect(third).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('holds waits while paused (offline), however long', async () => {
    const { instance } = scheduler();
    const done = vi.fn();
    instance.pause();
    void instance.wait().then(done);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(done).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
    instance.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toHaveBeenCalled();
  });

  it('rejects pending and later waits after close() and leaves no timer', async () => {
    const { instance } = scheduler();
    const pending = instance.wait();
    instance.close();
    await expect(pending).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await expect(instance.wait()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives up after maxAttempts in a row', async () => {
    const { instance } = scheduler(2);
    const first = instance.wait();
    await vi.advanceTimersByTimeAsync(1_000);
    await first;
    const second = instance.wait();
    await vi.advanceTimersByTimeAsync(2_000);
    await second;
    await expect(instance.wait()).rejects.toMatchObject({ code: 'RECONNECT_FAILED' });
  });
});
