import assert from 'node:assert/strict';
import type { SessionRecord } from '../session.js';
import {
  type CapabilityInterfaces,
  hasCapability,
  type StoreCapability,
} from '../store/capabilities.js';
import type { Store, StoreCore } from '../store/store.js';
import { sessionRecord } from './records.js';
import type { TestRunner } from './runner.js';

/** Options of `describeStoreConformance`; `S` is the type of your store. */
export interface StoreConformanceOptions<S extends Store = Store> {
  /** Shown in the suite's name (`Store conformance: <name>`). */
  name: string;
  /**
   * The optional capabilities the store has, each with all its methods
   * (`[]` for the core alone). The suite registers the tests of these and
   * no others, and one test that fails when the store has a capability it
   * does not declare, lacks one it declares, or has part of one.
   *
   * @example
   * capabilities: ['idempotency', 'rateLimits', 'listing', 'events'] // RedisStore's
   */
  capabilities: readonly StoreCapability[];
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
   * nodes share: each sees the sessions the other wrote, and, when declared,
   * events of the other node arrive (`events`) and rate limits count across
   * both (`rateLimits`). Leave it out for a store that lives in one process.
   */
  createPeer?(store: S): S | Promise<S>;
}

/** Idle time after which an unpinned session expires in these tests, in ms. */
export const TIMEOUT_MS = 60_000;

/** What each test of the store suites gets. */
export interface StoreFixture<S extends StoreCore = Store> {
  /** A fresh store, configured with a one-minute timeout; closed after the test. */
  readonly store: S;
  /**
   * The real clock when the test started (so a store using TTLs of its
   * backing service sees sensible values); tests move time forwards only,
   * as the manager's clock does.
   */
  readonly t0: number;
  /** Creates a new idle session in the store (see `sessionRecord`) and returns it. */
  created(at: number, fields?: Partial<SessionRecord>): Promise<SessionRecord>;
  /** Plain copy of what the store holds now (stores own their records), request ids sorted. */
  snapshot(sessionId: string, now: number): Promise<SessionRecord | undefined>;
}

/** Registers a test whose body gets the fixture of the running test. */
export type StoreTest<S extends StoreCore = Store> = (
  name: string,
  body: (fixture: StoreFixture<S>) => Promise<void> | void,
) => void;

/** What the parts of the store suite register with: the runner's `describe`, and a `StoreTest`. */
export interface StoreSuite<S extends StoreCore = Store> {
  readonly describe: TestRunner['describe'];
  readonly test: StoreTest<S>;
}

/**
 * Registers hooks (in the enclosing `describe`) that give each test a fresh
 * store and close it afterwards, and returns the suite whose `test` hands
 * each test body its fixture.
 */
export function storeSuite(runner: TestRunner, options: StoreConformanceOptions): StoreSuite {
  let fixture: StoreFixture | undefined;
  runner.beforeEach(async () => {
    const store = await options.createStore();
    store.configure({ sessionTimeoutMs: TIMEOUT_MS });
    fixture = {
      store,
      t0: Date.now(),
      created: (at, fields) => createdIn(store, at, fields),
      snapshot: (sessionId, now) => snapshotIn(store, sessionId, now),
    };
  });
  runner.afterEach(async () => {
    if (fixture === undefined) return;
    const { store } = fixture;
    fixture = undefined;
    await options.cleanup?.(store);
    await store.close();
  });
  return {
    describe: runner.describe,
    test: (name, body) => {
      runner.test(name, () => {
        assert.ok(fixture !== undefined, 'no store: its beforeEach hook did not run');
        return body(fixture);
      });
    },
  };
}

/**
 * `suite` for the tests of one capability the store declares: their
 * fixture's store is typed with it, and a test fails at once when the
 * store lacks some of its methods.
 */
export function capabilitySuite<C extends StoreCapability>(
  suite: StoreSuite,
  capability: C,
): StoreSuite<Store & CapabilityInterfaces[C]> {
  return {
    describe: suite.describe,
    test: (name, body) =>
      suite.test(name, (fixture) => {
        const { store } = fixture;
        assert.ok(
          hasCapability(store, capability),
          `${store.name} declares ${capability} but lacks some of its methods`,
        );
        return body({ ...fixture, store });
      }),
  };
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
export async function snapshotIn(
  store: StoreCore,
  sessionId: string,
  now: number,
): Promise<SessionRecord | undefined> {
  const found = await store.get(sessionId, now);
  return found && { ...found, activeRequests: [...found.activeRequests].sort() };
}
