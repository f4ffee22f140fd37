import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';

/** A store that counts calls per method and lets a test replace some methods. */
export interface SpyStore extends Store {
  /** Calls per method name. */
  readonly calls: Map<string, number>;
  /** Calls to any method. */
  totalCalls(): number;
}

/**
 * Wraps a real `MemoryStore`: every method counts its calls, and `overrides`
 * (which receive the wrapped store) can delay or fail chosen operations.
 *
 * @example
 * const store = spyStore({ ping: () => Promise.reject(new Error('down')) });
 */
export function spyStore(
  overrides: { [K in keyof Store]?: (inner: Store) => Store[K] } = {},
): SpyStore {
  const inner = new MemoryStore();
  const calls = new Map<string, number>();
  const wrapped = new Proxy(inner, {
    get(target, key, receiver) {
      if (key === 'calls') return calls;
      if (key === 'totalCalls') return () => [...calls.values()].reduce((a, b) => a + b, 0);
      // Replacing an operation also hides its synchronous form, so the
      // manager goes through the replacement.
      if (typeof key === 'string' && key.endsWith('Sync')) {
        const asyncName = key.slice(0, -'Sync'.length) as keyof Store;
        if (overrides[asyncName] !== undefined) return undefined;
      }
      const override = overrides[key as keyof Store];
      const value = override ? override(inner) : Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(key), (calls.get(String(key)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return wrapped as unknown as SpyStore;
}
