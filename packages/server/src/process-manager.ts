import { ErrorCode, MorganError } from './errors.js';
import { SessionManager, type SessionManagerOptions } from './manager.js';

let instance: SessionManager | undefined;

/**
 * Creates the process-wide manager (once) and starts it.
 *
 * @example
 * initializeSessionManager({ ...loadConfig() });
 * // elsewhere
 * const manager = getSessionManager();
 */
export function initializeSessionManager(options: SessionManagerOptions = {}): SessionManager {
  if (instance !== undefined && !instance.stopping) return instance;
  instance = new SessionManager(options).start();
  return instance;
}

/** The process-wide manager. @throws MorganError `MANAGER_NOT_INITIALIZED` before `initializeSessionManager`. */
export function getSessionManager(): SessionManager {
  if (instance === undefined) {
    throw new MorganError(
      ErrorCode.MANAGER_NOT_INITIALIZED,
      'getSessionManager() was called before initializeSessionManager()',
    );
  }
  return instance;
}

/** Stops and forgets the process-wide manager (for tests and shutdown). */
export async function resetSessionManager(): Promise<void> {
  const current = instance;
  instance = undefined;
  await current?.stop();
}
