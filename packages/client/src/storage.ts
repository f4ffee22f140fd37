/** The part of the Web Storage API the client uses; bring your own to store ids elsewhere. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Where the session id is kept between page loads:
 * - `'session'`: `sessionStorage`, one session per tab (the browser default);
 * - `'local'`: `localStorage`, one session shared by every tab of the origin;
 * - `'memory'`: this client object only (the default where there is no `window`, e.g. Node);
 * - any {@link StorageLike} object.
 */
export type StorageOption = 'session' | 'local' | 'memory' | StorageLike;

/** Keeps one session id under one key. */
export interface SessionIdStore {
  /** Which storage is in use, after fallbacks. */
  readonly kind: 'session' | 'local' | 'memory' | 'custom';
  get(): string | undefined;
  set(sessionId: string): void;
  clear(): void;
}

/** A {@link StorageLike} over a `Map`, for Node and for tests. */
export function createMemoryStorage(): StorageLike {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, String(value));
    },
    removeItem: (key) => {
      items.delete(key);
    },
  };
}

/** The storage the client uses when none is given: `'session'` in browsers, `'memory'` elsewhere. */
export function defaultStorageOption(): StorageOption {
  return webStorage('sessionStorage') === undefined ? 'memory' : 'session';
}

/**
 * Opens the id store for `option`. A Web Storage that is missing (Node, a
 * worker) or that throws on access (a locked-down or private browser mode)
 * falls back to memory, so the client still works, just without persistence.
 *
 * @example
 * const ids = openSessionIdStore('local', 'morgan.sessionId');
 * ids.set(sessionId);
 */
export function openSessionIdStore(option: StorageOption, key: string): SessionIdStore {
  if (typeof option === 'object') return wrap('custom', option, key);
  if (option === 'session' || option === 'local') {
    const storage = webStorage(option === 'session' ? 'sessionStorage' : 'localStorage');
    if (storage !== undefined) return wrap(option, storage, key);
  }
  return wrap('memory', createMemoryStorage(), key);
}

function wrap(kind: SessionIdStore['kind'], storage: StorageLike, key: string): SessionIdStore {
  return {
    kind,
    get() {
      try {
        return storage.getItem(key) ?? undefined;
      } catch {
        return undefined;
      }
    },
    set(sessionId) {
      try {
        storage.setItem(key, sessionId);
      } catch {
        // A full or locked storage only costs resumption after a reload.
      }
    },
    clear() {
      try {
        storage.removeItem(key);
      } catch {
        // Same as above.
      }
    },
  };
}

function webStorage(name: 'sessionStorage' | 'localStorage'): StorageLike | undefined {
  try {
    const storage = (globalThis as Record<string, unknown>)[name] as StorageLike | undefined;
    if (storage === undefined || storage === null || typeof storage.getItem !== 'function')
      return undefined;
    const probe = '__morgan_probe__';
    storage.setItem(probe, probe);
    storage.removeItem(probe);
    return storage;
  } catch {
    return undefined;
  }
}
