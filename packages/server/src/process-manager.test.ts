import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MorganError } from './errors.js';
import { SessionManager } from './manager.js';
import {
  getSessionManager,
  initializeSessionManager,
  resetSessionManager,
} from './process-manager.js';

describe('process-wide manager', () => {
  afterEach(async () => {
    await resetSessionManager();
  });

  it('getSessionManager throws MANAGER_NOT_INITIALIZED before initializeSessionManager', () => {
    expect(() => getSessionManager()).toThrow(MorganError);
    try {
      getSessionManager();
    } catch (error) {
      expect((error as MorganError).code).toBe(ErrorCode.MANAGER_NOT_INITIALIZED);
      expect((error as Error).message).toContain('initializeSessionManager');
    }
  });

  it('initializeSessionManager creates and starts one instance with the options', () => {
    const manager = initializeSessionManager({ sessionTimeoutMs: 5000 });
    expect(manager).toBeInstanceOf(SessionManager);
    expect(manager.running).toBe(true);
    expect(manager.sessionTimeoutMs).toBe(5000);
    expect(getSessionManager()).toBe(manager);
    expect(initializeSessionManager({ sessionTimeoutMs: 9000 })).toBe(manager);
  });

  it('resetSessionManager stops the instance and forgets it', async () => {
    const manager = initializeSessionManager();
    await resetSessionManager();
    expect(manager.running).toBe(false);
    expect(manager.stopping).toBe(true);
    expect(() => getSessionManager()).toThrow(/initializeSessionManager/);
    await expect(resetSessionManager()).resolves.toBeUndefined();
  });

  it('replaces an instance that was stopped directly', async () => {
    const first = initializeSessionManager();
    await first.stop();
    const second = initializeSessionManager();
    expect(second).not.toBe(first);
    expect(second.running).toBe(true);
    expect(getSessionManager()).toBe(second);
  });
});
