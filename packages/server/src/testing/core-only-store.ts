import { capabilityMethods } from '../store/capabilities.js';
import type { Store } from '../store/store.js';

const capabilityNames: ReadonlySet<PropertyKey> = new Set(Object.values(capabilityMethods).flat());

/**
 * `inner` seen through the required core of `Store` only: every method of
 * an optional capability reads as undefined, as on a third-party store that
 * implements just the core.
 *
 * @example
 * const manager = new SessionManager({ store: coreOnly(new MemoryStore()) });
 */
export function coreOnly(inner: Store): Store {
  return new Proxy(inner, {
    get(target, key) {
      if (capabilityNames.has(key)) return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
