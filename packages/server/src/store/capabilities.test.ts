import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeStoreConformance } from '../conformance/store.js';
import { ErrorCode } from '../errors.js';
import { SessionManager } from '../manager.js';
import { coreOnly } from '../testing/core-only-store.js';
import { vitestRunner } from '../testing/vitest-runner.js';
import { storeCapabilities } from './capabilities.js';
import { DEFAULT_IDEMPOTENCY_WINDOW_MS } from './idempotency-records.js';
import { MemoryStore } from './memory.js';
import type { Store } from './store.js';

/**
 * A core-only store with the manager's per-node idempotency records in
 * place of its own, reconfigured with it: what the manager runs.
 */
function withNodeIdempotency(inner: Store): Store {
  const fallback = (windowMs: number) =>
    storeCapabilities(inner, { idempotencyWindowMs: windowMs }).idempotency;
  let keys = fallback(DEFAULT_IDEMPOTENCY_WINDOW_MS);
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key === 'configure') {
        return (settings: Parameters<Store['configure']>[0]) => {
          target.configure(settings);
          keys = fallback(settings.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS);
        };
      }
      if (typeof key === 'string' && key in keys) {
        const method = keys[key as keyof typeof keys];
        return typeof method === 'function' ? method.bind(keys) : method;
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

// A core-only store declares no capability and runs the core tests only;
// with the per-node records it declares idempotency, and they keep its
// contract (on one node).
describeStoreConformance(vitestRunner, {
  name: 'a core-only store',
  capabilities: [],
  createStore: () => coreOnly(new MemoryStore()),
});
describeStoreConformance(vitestRunner, {
  name: 'a core-only store with per-node idempotency records',
  capabilities: ['idempotency'],
  createStore: () => withNodeIdempotency(coreOnly(new MemoryStore())),
});

describe('storeCapabilities', () => {
  it('uses every capability of MemoryStore, with nothing to fall back on', () => {
    const store = new MemoryStore();
    const capabilities = storeCapabilities(store, { idempotencyWindowMs: 1000 });
    expect(capabilities.fallbacks).toEqual([]);
    expect(capabilities.idempotency).toBe(store);
  });

  it('lists what a core-only store lacks, in a fixed order, and stands in for it', async () => {
    const capabilities = storeCapabilities(coreOnly(new MemoryStore()), {
      idempotencyWindowMs: 1000,
    });
    expect(capabilities.fallbacks).toEqual(['idempotency', 'rateLimits', 'listing', 'events']);
    const limiter = capabilities.rateLimiter('create', { limit: 1, windowMs: 1000 });
    expect((await limiter.consume('a')).allowed).toBe(true);
    expect((await limiter.consume('a')).allowed).toBe(false);
  });

  it('counts a capability only with all its methods', () => {
    const store = new MemoryStore();
    const partial = new Proxy(store, {
      get: (target, key) =>
        key === 'releaseIdempotencyKey' ? undefined : Reflect.get(target, key, target),
    });
    const capabilities = storeCapabilities(partial, { idempotencyWindowMs: 1000 });
    expect(capabilities.fallbacks).toEqual(['idempotency']);
    expect(capabilities.idempotency).not.toBe(partial);
  });
});

describe('a SessionManager on a core-only store', () => {
  const managers: SessionManager[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
  });
  const newManager = () => {
    const manager = new SessionManager({ store: coreOnly(new MemoryStore()) });
    managers.push(manager);
    return manager;
  };

  it('says once at start-up which capabilities fell back', () => {
    const manager = newManager();
    const warnings: unknown[] = [];
    manager.on('warning', (warning) => warnings.push(warning));
    manager.start();
    manager.start();
    expect(manager.storeFallbacks).toEqual(['idempotency', 'rateLimits', 'listing', 'events']);
    expect(warnings).toEqual([
      {
        code: 'STORE_FALLBACK',
        store: 'memory',
        fallbacks: ['idempotency', 'rateLimits', 'listing', 'events'],
        message: expect.stringMatching(
          /^The memory store lacks idempotency, rateLimits, listing, events: idempotency records are kept on this node only; .*docs\/stores\.md/,
        ),
      },
    ]);
  });

  it('hands the warning to process.emitWarning when nobody listens', () => {
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    newManager().start();
    expect(emitWarning).toHaveBeenCalledTimes(1);
    expect(emitWarning).toHaveBeenCalledWith(expect.stringContaining('lacks idempotency'), {
      code: 'MORGAN_STORE_FALLBACK',
    });
  });

  it('warns of nothing for MemoryStore', () => {
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const manager = new SessionManager();
    managers.push(manager);
    const warnings: unknown[] = [];
    manager.on('warning', (warning) => warnings.push(warning));
    manager.start();
    expect(manager.storeFallbacks).toEqual([]);
    expect(warnings).toEqual([]);
    expect(emitWarning).not.toHaveBeenCalled();
  });

  it('keeps idempotency records on this node, only for live sessions', async () => {
    const manager = newManager().on('warning', () => {});
    const { sessionId } = await manager.createSession();
    expect(await manager.claimIdempotencyKey(sessionId, 'k', 'fp')).toEqual({ state: 'new' });
    await manager.completeIdempotencyKey(sessionId, 'k', 'outcome');
    expect(await manager.claimIdempotencyKey(sessionId, 'k', 'fp')).toEqual({
      state: 'done',
      fingerprint: 'fp',
      outcome: 'outcome',
    });
    await manager.deleteSession(sessionId);
    expect(await manager.claimIdempotencyKey(sessionId, 'k', 'fp')).toEqual({ state: 'new' });
  });

  it('cannot list all sessions, and says which store', async () => {
    const manager = newManager().on('warning', () => {});
    await expect(manager.listSessions()).rejects.toMatchObject({
      code: ErrorCode.INTERNAL_ERROR,
      message: 'The memory store cannot list sessions',
    });
  });
});
