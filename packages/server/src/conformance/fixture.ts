import type { SessionRecord } from '../session.js';
import type { Store, StoreCore } from '../store/store.js';
import { sessionRecord } from './records.js';
import type { TestRunner } from './runner.js';

/** Options of `describeStoreConformance`; `S` is the type of your store. */
export interface StoreConformanceOptions<S extends Store = Store> {
  /** Shown in the suite's name (`Store conformance: <name>`). */
  name: string;
  /**
   * A fresh store for each test, not yet configured (the suite calls
   * `configure`). Stores may share a backing service: ids and user ids are
   * random, so they never see each other's records.
   */
  createStore(): S | Promise<S>;
  /** Runs after each test, before `store.close()` (for example to delete keys). */
  cleanup?(store: S): Promise<void>;
  /**
   * A second node on the backing service of `store` (a new store object,
   * unconfigured; the suite closes it). With it the suite also checks what
   * nodes share: events of the other node arrive (`subscribe`) and rate
   * limits count across both (`rateLimiter`). Leave it out for a store that
   * lives in one process.
   */
  createPeer?(store: S): S | Promise<S>;
}

/** Idle time after which an unpinned session expires in these tests, in ms. */
export const TIMEOUT_MS = 60_000;

/** The store of the running test and the time it started at. */
export interface StoreUnderTest {
  readonly store: Store;
  readonly t0: number;
}

/**
 * Registers hooks (in the enclosing `describe`) that give each test a fresh
 * store, configured with a one-minute timeout, and close it afterwards;
 * `use` gets each one. `t0` is the real clock at the start (so a store using
 * TTLs of its backing service sees sensible values); tests move time
 * forwards only, as the manager's clock does.
 */
export function eachStore(
  runner: TestRunner,
  options: StoreConformanceOptions,
  use: (current: StoreUnderTest) => void,
): void {
  let store: Store | undefined;
  runner.beforeEach(async () => {
    store = await options.createStore();
    store.configure({ sessionTimeoutMs: TIMEOUT_MS });
    use({ store, t0: Date.now() });
  });
  runner.afterEach(async () => {
    if (store === undefined) return;
    await options.cleanup?.(store);
    await store.close();
    store = undefined;
  });
}

/** Creates a new idle session in `store` (see `sessionRecord`) and returns it. */
export async function createdIn(
  store: StoreCore,
  at: number,
  fields: Partial<SessionRecord> = {},
): Promise<SessionRecord> {
  const value = sessionRecord(at, fields);
  await store.create(value);
  return value;
}

/** Plain copy of what the store holds now (stores own their records), request ids sorted. */
export async function snapshotIn(store: StoreCore, sessionId: string, now: number) {
  const found = await store.get(sessionId, now);
  return found && { ...found, activeRequests: [...found.activeRequests].sort() };
}
