import { CapacityLimiter } from '@morgan/session-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OverloadSimulator } from './overload.js';

describe('OverloadSimulator', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds all but freeSlots of the capacity while on, and gives them back when off', () => {
    const capacity = new CapacityLimiter({ maxConcurrent: 10 });
    const overload = new OverloadSimulator(capacity, { freeSlots: 3 });
    expect(overload.set(true)).toMatchObject({ enabled: true, heldSlots: 7, freeSlots: 3 });
    expect(capacity.inFlight).toBe(7);
    expect([capacity.tryAcquire(), capacity.tryAcquire(), capacity.tryAcquire()]).toEqual([
      true,
      true,
      true,
    ]);
    expect(capacity.tryAcquire()).toBe(false);
    overload.set(false);
    expect(overload.heldSlots).toBe(0);
    expect(capacity.inFlight).toBe(3);
  });

  it('leaves slots of real requests alone and takes them once they are given back', () => {
    const capacity = new CapacityLimiter({ maxConcurrent: 5 });
    for (let i = 0; i < 4; i += 1) capacity.tryAcquire();
    const overload = new OverloadSimulator(capacity, { freeSlots: 1 });
    overload.set(true);
    expect(overload.heldSlots).toBe(1);
    for (let i = 0; i < 4; i += 1) capacity.release();
    overload.topUp();
    expect(overload.heldSlots).toBe(4);
    expect(capacity.inFlight).toBe(4);
    overload.close();
    expect(capacity.inFlight).toBe(0);
  });

  it('follows new settings and never takes slots while off', () => {
    const capacity = new CapacityLimiter({ maxConcurrent: 4 });
    const overload = new OverloadSimulator(capacity);
    overload.topUp();
    expect(capacity.inFlight).toBe(0);
    overload.set(true, { freeSlots: 0 });
    expect(capacity.inFlight).toBe(4);
    overload.set(true, { freeSlots: 3 });
    expect(capacity.inFlight).toBe(1);
    overload.close();
  });

  it('delays replies only while on, and close ends pending delays', async () => {
    vi.useFakeTimers();
    const overload = new OverloadSimulator(new CapacityLimiter({ maxConcurrent: 4 }), {
      replyDelayMs: 1000,
    });
    let done = false;
    await overload.delay();
    overload.set(true);
    const delayed = overload.delay().then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await delayed;
    expect(done).toBe(true);

    let closed = false;
    const pending = overload.delay().then(() => {
      closed = true;
    });
    overload.close();
    await pending;
    expect(closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
