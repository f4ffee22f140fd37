import { SessionManager } from '@morgan/session-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoadSampler } from './sampler.js';

describe('LoadSampler', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('records sessions, real requests in flight and sheds per interval', async () => {
    const manager = new SessionManager({ maxConcurrentRequests: 3 });
    let phantom = 1;
    const sampler = new LoadSampler(manager, { phantomSlots: () => phantom });
    await manager.createSession();
    await manager.createSession();
    manager.capacity.tryAcquire();
    manager.capacity.tryAcquire();
    manager.capacity.tryAcquire();
    manager.capacity.acquire();
    manager.capacity.acquire();
    expect(await sampler.sample()).toMatchObject({
      activeSessions: 2,
      inFlightRequests: 2,
      shed: 2,
      capacityLimit: 3,
    });
    phantom = 0;
    manager.capacity.release();
    expect(await sampler.sample()).toMatchObject({ inFlightRequests: 2, shed: 0 });
    expect(sampler.samples()).toHaveLength(2);
    await manager.stop();
  });

  it('records the live limit of adaptive capacity', async () => {
    const manager = new SessionManager({ capacity: { mode: 'adaptive', initialLimit: 30 } });
    const sampler = new LoadSampler(manager);
    expect(await sampler.sample()).toMatchObject({ capacityLimit: 30 });
    await manager.stop();
  });

  it('samples on its interval, keeps only the window and stops cleanly', async () => {
    vi.useFakeTimers();
    const manager = new SessionManager();
    let ticks = 0;
    const sampler = new LoadSampler(manager, {
      intervalMs: 1000,
      windowMs: 5000,
      onTick: () => {
        ticks += 1;
      },
    }).start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(ticks).toBe(10);
    const samples = sampler.samples();
    expect(samples.length).toBeLessThanOrEqual(6);
    expect(samples.at(-1)!.at - samples[0]!.at).toBeLessThanOrEqual(5000);
    sampler.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(ticks).toBe(10);
    await manager.stop();
  });
});
