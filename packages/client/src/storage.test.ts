import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryStorage,
  defaultStorageOption,
  openSessionIdStore,
  type StorageLike,
} from './storage.js';

const KEY = 'morgan.sessionId';
const ID = '5b0f5a8e-3a37-4c1e-9c53-0f6f1c2a8f11';

/** Installs a Web Storage double on globalThis, as a browser has. */
function installGlobal(name: 'sessionStorage' | 'localStorage', storage: StorageLike): void {
  Object.defineProperty(globalThis, name, { value: storage, configurable: true, writable: true });
}

afterEach(() => {
  delete (globalThis as Record<string, unknown>).sessionStorage;
  delete (globalThis as Record<string, unknown>).localStorage;
});

describe('openSessionIdStore', () => {
  it('keeps the id in memory', () => {
    const store = openSessionIdStore('memory', KEY);
    expect(store.kind).toBe('memory');
    expect(store.get()).toBeUndefined();
    store.set(ID);
    expect(store.get()).toBe(ID);
    store.clear();
    expect(store.get()).toBeUndefined();
  });

  it('gives each memory store its own id (one per client)', () => {
    const a = openSessionIdStore('memory', KEY);
    const b = openSessionIdStore('memory', KEY);
    a.set(ID);
    expect(b.get()).toBeUndefined();
  });

  it('uses sessionStorage for "session" and localStorage for "local"', () => {
    const perTab = createMemoryStorage();
    const shared = createMemoryStorage();
    installGlobal('sessionStorage', perTab);
    installGlobal('localStorage', shared);
    const tab = openSessionIdStore('session', KEY);
    const origin = openSessionIdStore('local', KEY);
    expect([tab.kind, origin.kind]).toEqual(['session', 'local']);
    tab.set(ID);
    expect(perTab.getItem(KEY)).toBe(ID);
    expect(shared.getItem(KEY)).toBeNull();
    origin.set('other');
    expect(shared.getItem(KEY)).toBe('other');
  });

  it('shares one id between clients of the same localStorage (tabs of an origin)', () => {
    installGlobal('localStorage', createMemoryStorage());
    openSessionIdStore('local', KEY).set(ID);
    expect(openSessionIdStore('local', KEY).get()).toBe(ID);
  });

  it('falls back to memory when Web Storage is missing (Node) or throws (locked down)', () => {
    expect(openSessionIdStore('session', KEY).kind).toBe('memory');
    installGlobal('localStorage', {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('SecurityError');
      },
      removeItem: () => {
        throw new Error('SecurityError');
      },
    });
    const store = openSessionIdStore('local', KEY);
    expect(store.kind).toBe('memory');
    store.set(ID);
    expect(store.get()).toBe(ID);
  });

  it('accepts a custom Storage-like object under the given key', () => {
    const custom = createMemoryStorage();
    const store = openSessionIdStore(custom, 'app.session');
    expect(store.kind).toBe('custom');
    store.set(ID);
    expect(custom.getItem('app.session')).toBe(ID);
  });

  it('survives a custom storage that fails on write', () => {
    const failing: StorageLike = {
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
      removeItem: () => {},
    };
    const store = openSessionIdStore(failing, KEY);
    expect(() => store.set(ID)).not.toThrow();
    expect(store.get()).toBeUndefined();
  });
});

describe('defaultStorageOption', () => {
  it('is memory without sessionStorage and session with it', () => {
    expect(defaultStorageOption()).toBe('memory');
    installGlobal('sessionStorage', createMemoryStorage());
    expect(defaultStorageOption()).toBe('session');
  });
});
