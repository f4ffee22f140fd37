import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type SessionEndedEvent, SessionManager } from './manager.js';
import { MemoryStore } from './store/memory.js';

const T0 = 1_700_000_000_000;
const TIMEOUT_MS = 60_000;
const INTERVAL_MS = 10_000;

/** Resolved-or-not of a promise after the microtasks queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

describe('start, cleanup and stop (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function manager(options: ConstructorParameters<typeof SessionManager>[0] = {}) {
    return new SessionManager({
      sessionTimeoutMs: TIMEOUT_MS,
      cleanupIntervalMs: INTERVAL_MS,
      ...options,
    });
  }

  it('start is idempotent and runs one sweep timer', async () => {
    const m = manager();
    expect(m.running).toBe(false);
    expect(m.start()).toBe(m);
    m.start();
    expect(m.running).toBe(true);
    expect(vi.getTimerCount()).toBe(1);
    await m.stop();
  });

  it('the periodic sweep expires idle sessions once they pass the timeout', async () => {
    const m = manager().start();
    const expired: SessionEndedEvent[] = [];
    m.on('expired', (event) => expired.push(event));
    const idle = await m.createSession({ userId: 'u1' });
    await vi.advanceTimersByTimeAsync(20_000);
    const later = await m.createSession();
    await vi.advanceTimersByTimeAsync(40_000); // idle has been idle exactly TIMEOUT_MS
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(expired).toEqual([{ sessionId: idle.sessionId, userId: 'u1', origin: 'local' }]);
    expect(await m.getSession(later.sessionId)).toBeDefined();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(expired.map((e) => e.sessionId)).toEqual([idle.sessionId, later.sessionId]);
    expect(await m.getMetrics()).toMatchObject({
      activeSessions: 0,
      totalSessionsExpired: 2,
      totalSessionsCleaned: 2,
    });
    await m.stop();
  });

  it('cleanup() removes exactly the expired sessions and announces each', async () => {
    const m = manager();
    const expired: string[] = [];
    m.on('expired', (event) => expired.push(event.sessionId));
    const a = await m.createSession();
    const b = await m.createSession();
    vi.setSystemTime(T0 + 30_000);
    const fresh = await m.createSession();
    const pinned = await m.createSession();
    await m.addConnection(pinned.sessionId);
    expect(await m.cleanup()).toBe(0);
    vi.setSystemTime(T0 + TIMEOUT_MS + 1);
    expect(await m.cleanup()).toBe(2);
    expect(expired.sort()).toEqual([a.sessionId, b.sessionId].sort());
    expect(await m.getSession(fresh.sessionId)).toBeDefined();
    expect(await m.getSession(pinned.sessionId)).toBeDefined();
    expect(await m.cleanup()).toBe(0);
    expect((await m.getMetrics()).totalSessionsCleaned).toBe(2);
  });

  it('a failing background sweep is reported as error, and the timer keeps going', async () => {
    const store = new MemoryStore();
    const m = manager({ store }).start();
    const errors: Error[] = [];
    m.on('error', (error) => errors.push(error));
    store.sweep = () => Promise.reject(new Error('store down'));
    await vi.advanceTimersByTimeAsync(2 * INTERVAL_MS);
    expect(errors.map((e) => e.message)).toEqual(['store down', 'store down']);
    await m.stop();
  });

  it('stop() releases the timer, closes the store once, and is idempotent', async () => {
    const store = new MemoryStore();
    const close = vi.spyOn(store, 'close');
    const m = manager({ store }).start();
    const first = m.stop();
    expect(m.stop()).toBe(first);
    await first;
    expect(vi.getTimerCount()).toBe(0);
    expect(m.running).toBe(false);
    expect(m.stopping).toBe(true);
    expect(close).toHaveBeenCalledTimes(1);
    m.start();
    expect(m.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() waits for requests in flight before releasing anything', async () => {
    const m = manager().start();
    const { sessionId } = await m.createSession();
    const request = await m.beginRequest(sessionId);
    const stopped = m.stop();
    expect(await settled(stopped)).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await settled(stopped)).toBe(false);
    expect(m.running).toBe(true);
    await request.end();
    expect(await settled(stopped)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() gives up waiting at the drain deadline and leaves no timer', async () => {
    const m = manager({ drainTimeoutMs: 5_000 }).start();
    const { sessionId } = await m.createSession();
    const request = await m.beginRequest(sessionId);
    const stopped = m.stop({ drainTimeoutMs: 1_000 });
    await vi.advanceTimersByTimeAsync(999);
    expect(await settled(stopped)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(stopped)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await request.end();
    expect(m.activeRequestCount).toBe(0);
  });

  it('stop() uses drainTimeoutMs by default', async () => {
    const m = manager({ drainTimeoutMs: 3_000 }).start();
    const { sessionId } = await m.createSession();
    await m.beginRequest(sessionId);
    const stopped = m.stop();
    await vi.advanceTimersByTimeAsync(2_999);
    expect(await settled(stopped)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(stopped)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drain() answers true at once when idle, false at the deadline', async () => {
    const m = manager();
    expect(await m.drain(1_000)).toBe(true);
    const { sessionId } = await m.createSession();
    const request = await m.beginRequest(sessionId);
    const drained = m.drain(1_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await drained).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    const again = m.drain(1_000);
    await request.end();
    expect(await again).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('timers do not hold the process open (real timers)', () => {
  it('the sweep timer is unref’d', async () => {
    const refTimers = () =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = refTimers();
    const m = new SessionManager({ cleanupIntervalMs: 1_000 }).start();
    expect(m.running).toBe(true);
    expect(refTimers()).toBe(before);
    await m.stop();
  });
});
