import { describe, expect, it } from 'vitest';
import { createMemoryLocks } from './locks.js';

describe('createMemoryLocks', () => {
  it('grants a lock to one holder at a time, in the order asked, until its callback settles', async () => {
    const locks = createMemoryLocks();
    const order: string[] = [];
    let releaseFirst = () => {};
    const first = locks.request('a', {}, async () => {
      order.push('first');
      await new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      return 'first done';
    });
    const second = locks.request('a', {}, () => {
      order.push('second');
    });
    const third = locks.request('a', {}, () => {
      order.push('third');
    });
    const other = locks.request('b', {}, () => {
      order.push('other name');
    });
    await other;
    expect(order).toEqual(['first', 'other name']);
    releaseFirst();
    expect(await first).toBe('first done');
    await Promise.all([second, third]);
    expect(order).toEqual(['first', 'other name', 'second', 'third']);
  });

  it('releases the lock when the callback throws, and rejects with its error', async () => {
    const locks = createMemoryLocks();
    const failing = locks.request('a', {}, () => {
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(await locks.request('a', {}, () => 'next')).toBe('next');
  });

  it('drops a waiter whose signal aborts, and refuses an aborted signal at once', async () => {
    const locks = createMemoryLocks();
    let release = () => {};
    const held = locks.request('a', {}, () => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    let ran = false;
    const waiting = locks.request('a', { signal: controller.signal }, () => {
      ran = true;
    });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await expect(locks.request('a', { signal: controller.signal }, () => {})).rejects.toMatchObject(
      {
        name: 'AbortError',
      },
    );
    const after = locks.request('a', {}, () => 'after');
    release();
    await held;
    expect(await after).toBe('after');
    expect(ran).toBe(false);
  });
});
