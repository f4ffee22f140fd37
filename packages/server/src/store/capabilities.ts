import { memoryRateLimiter, type RateLimiter, type RateLimitPolicy } from '../rate-limit.js';
import { IdempotencyRecords } from './idempotency-records.js';
import type {
  CrossNodeEvents,
  IdempotencyClaim,
  IdempotencyKeys,
  SessionListing,
  SharedRateLimits,
  Store,
  StoreCore,
  SyncRequests,
} from './store.js';

/**
 * An optional capability of `Store`, by the name docs/stores.md gives it
 * (and `/health` reports when it falls back), as a store author declares
 * it to the conformance suite.
 *
 * @example
 * // a store that implements StoreCore and SessionListing
 * describeStoreConformance(runner, { name: 'PostgresStore', capabilities: ['listing'], createStore });
 */
export type StoreCapability = 'idempotency' | 'rateLimits' | 'listing' | 'events' | 'syncRequests';

/** The interface of each optional capability of `Store`. */
export interface CapabilityInterfaces {
  idempotency: IdempotencyKeys;
  rateLimits: SharedRateLimits;
  listing: SessionListing;
  events: CrossNodeEvents;
  syncRequests: SyncRequests;
}

/** The methods of each optional capability of `Store`. */
export const capabilityMethods = {
  idempotency: ['claimIdempotencyKey', 'completeIdempotencyKey', 'releaseIdempotencyKey'],
  rateLimits: ['rateLimiter'],
  listing: ['list'],
  events: ['subscribe'],
  syncRequests: ['addRequestSync', 'removeRequestSync'],
} as const satisfies {
  [C in StoreCapability]: readonly (keyof CapabilityInterfaces[C])[];
};

/**
 * A capability the manager runs without the store: `idempotency` (records
 * kept on this node), `rateLimits` (counted on this node), `listing`
 * (`listSessions` unavailable), `events` (no word of sessions ended on other
 * nodes). The synchronous fast path is not one: without it requests take
 * the asynchronous path, with the same behaviour.
 */
export type StoreFallback = Exclude<StoreCapability, 'syncRequests'>;

const fallbackOrder: readonly StoreFallback[] = ['idempotency', 'rateLimits', 'listing', 'events'];

/** True when `store` has every method of `capability`. */
export function hasCapability<C extends StoreCapability>(
  store: Store,
  capability: C,
): store is Store & CapabilityInterfaces[C] {
  return capabilityMethods[capability].every((method) => typeof store[method] === 'function');
}

/** What each fallback means for a deployment, as the start-up warning says it. */
const consequences: Record<StoreFallback, string> = {
  idempotency: 'idempotency records are kept on this node only',
  rateLimits: 'rate limits are counted on this node only',
  listing: 'listSessions is unavailable',
  events: 'sessions ended on other nodes are not announced to this one',
};

/** The `warning` a `SessionManager` emits once at start-up when some capabilities fell back. */
export interface StoreFallbackWarning {
  readonly code: 'STORE_FALLBACK';
  readonly message: string;
  /** The store's `name`. */
  readonly store: string;
  readonly fallbacks: readonly StoreFallback[];
}

/** The optional capabilities the manager uses: the store's own, or this node's stand-ins. */
export interface CapabilitiesInUse {
  readonly idempotency: IdempotencyKeys;
  /** The store's `rateLimiter`, or `memoryRateLimiter`. */
  rateLimiter(name: string, policy: RateLimitPolicy): RateLimiter;
  /** The capabilities that fell back, in a fixed order; empty when the store has them all. */
  readonly fallbacks: readonly StoreFallback[];
}

/**
 * Fills the optional capabilities `store` lacks with per-node stand-ins and
 * lists them. A capability counts only when all its methods are there.
 *
 * @example
 * const { idempotency, rateLimiter, fallbacks } = storeCapabilities(store, { idempotencyWindowMs });
 */
export function storeCapabilities(
  store: Store,
  options: { idempotencyWindowMs: number },
): CapabilitiesInUse {
  const fallbacks = fallbackOrder.filter((capability) => !hasCapability(store, capability));
  return {
    idempotency: hasCapability(store, 'idempotency')
      ? store
      : new NodeIdempotencyKeys(store, options.idempotencyWindowMs),
    rateLimiter: (name, policy) =>
      store.rateLimiter?.(name, policy) ?? memoryRateLimiter(name, policy),
    fallbacks,
  };
}

/**
 * Tells of the fallbacks once: a `warning` to `emit` (the manager's event),
 * or `process.emitWarning` when nobody listens. Does nothing without fallbacks.
 */
export function announceFallbacks(
  store: Store,
  fallbacks: readonly StoreFallback[],
  emit: (warning: StoreFallbackWarning) => boolean,
): void {
  if (fallbacks.length === 0) return;
  const message = `The ${store.name} store lacks ${fallbacks.join(', ')}: ${fallbacks
    .map((fallback) => consequences[fallback])
    .join('; ')} (see docs/stores.md)`;
  const warning: StoreFallbackWarning = {
    code: 'STORE_FALLBACK',
    message,
    store: store.name,
    fallbacks,
  };
  if (!emit(warning)) process.emitWarning(message, { code: 'MORGAN_STORE_FALLBACK' });
}

/**
 * Idempotency records on this node, for a store without them. A claim
 * first asks the store whether the session lives (one more round trip per
 * keyed call), so records of absent or expired sessions are never made;
 * records of sessions that end later expire with their window and are
 * swept at most once per window.
 */
class NodeIdempotencyKeys implements IdempotencyKeys {
  readonly #store: StoreCore;
  readonly #records = new IdempotencyRecords();
  #nextSweep = 0;

  constructor(store: StoreCore, windowMs: number) {
    this.#store = store;
    this.#records.windowMs = windowMs;
  }

  async claimIdempotencyKey(
    sessionId: string,
    key: string,
    fingerprint: string,
    now: number,
  ): Promise<IdempotencyClaim> {
    if ((await this.#store.get(sessionId, now)) === undefined) return { state: 'new' };
    if (now >= this.#nextSweep) {
      this.#records.sweep(now);
      this.#nextSweep = now + this.#records.windowMs;
    }
    return this.#records.claim(sessionId, key, fingerprint, now);
  }

  async completeIdempotencyKey(
    sessionId: string,
    key: string,
    outcome: string,
    now: number,
  ): Promise<void> {
    this.#records.complete(sessionId, key, outcome, now);
  }

  async releaseIdempotencyKey(sessionId: string, key: string): Promise<void> {
    this.#records.release(sessionId, key);
  }
}
