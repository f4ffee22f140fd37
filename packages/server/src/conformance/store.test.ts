import { describe, expect, it } from 'vitest';
import type { StoreCapability } from '../store/capabilities.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { coreOnly } from '../testing/core-only-store.js';
import type { TestRunner } from './runner.js';
import { describeStoreConformance, type StoreConformanceOptions } from './store.js';

type Hook = () => Promise<void> | void;
interface Scope {
  readonly before: Hook[];
  readonly after: Hook[];
}
interface Registered {
  readonly name: string;
  readonly body: Hook;
  /** The enclosing describes' hooks, outermost first, read when the test runs. */
  readonly scopes: readonly Scope[];
}

/** The suite's tests as registered (by full name), each runnable with its hooks. */
function registered(options: StoreConformanceOptions): Map<string, () => Promise<void>> {
  const tests: Registered[] = [];
  const path: string[] = [];
  const scopes: Scope[] = [{ before: [], after: [] }];
  const runner: TestRunner = {
    describe(name, body) {
      path.push(name);
      scopes.push({ before: [], after: [] });
      body();
      scopes.pop();
      path.pop();
    },
    test(name, body) {
      tests.push({ name: [...path.slice(1), name].join(' > '), body, scopes: [...scopes] });
    },
    beforeEach: (hook) => scopes.at(-1)?.before.push(hook),
    afterEach: (hook) => scopes.at(-1)?.after.push(hook),
  };
  describeStoreConformance(runner, options);
  return new Map(
    tests.map((test) => [
      test.name,
      async () => {
        for (const scope of test.scopes) for (const hook of scope.before) await hook();
        try {
          await test.body();
        } finally {
          for (const scope of [...test.scopes].reverse())
            for (const hook of scope.after) await hook();
        }
      },
    ]),
  );
}

const ALL: StoreCapability[] = ['idempotency', 'rateLimits', 'listing', 'events', 'syncRequests'];
const DECLARATION =
  'core > has exactly the optional capabilities it declares, each with all its methods';

function names(options: StoreConformanceOptions): string[] {
  return [...registered(options).keys()];
}

/** Runs the declaration test of `store` declaring `capabilities`. */
function declaration(store: () => Store, capabilities: StoreCapability[]): Promise<void> {
  const run = registered({ name: 'x', capabilities, createStore: store }).get(DECLARATION);
  if (run === undefined) throw new Error('no declaration test');
  return run();
}

/** A MemoryStore that has two of the three idempotency methods. */
function withoutRelease(): Store {
  return new Proxy(new MemoryStore(), {
    get(target, key) {
      if (key === 'releaseIdempotencyKey') return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('describeStoreConformance registers only the tests that apply', () => {
  const prefixes = (list: string[]) =>
    [...new Set(list.map((name) => name.split(' > ').slice(0, 2).join(' > ')))].filter(
      (prefix) => !prefix.startsWith('core'),
    );

  it('registers each declared capability’s tests, and no others', () => {
    expect(
      prefixes(names({ name: 'x', capabilities: ALL, createStore: () => new MemoryStore() })),
    ).toEqual(ALL.map((capability) => `capabilities > ${capability}`));
    const listing = names({
      name: 'x',
      capabilities: ['listing'],
      createStore: () => new MemoryStore(),
    });
    expect(prefixes(listing)).toEqual(['capabilities > listing']);
    const core = names({
      name: 'x',
      capabilities: [],
      createStore: () => coreOnly(new MemoryStore()),
    });
    expect(prefixes(core)).toEqual([]);
    expect(core).toContain(DECLARATION);
    expect(core.length).toBeGreaterThan(40);
  });

  it('registers what nodes share only with createPeer, and per declared capability', () => {
    const createStore = () => new MemoryStore();
    const shared = 'nodes > sees at once what another node wrote, rotated and ended';
    expect(
      names({ name: 'x', capabilities: ALL, createStore }).some((n) => n.startsWith('nodes')),
    ).toBe(false);
    const createPeer = () => new MemoryStore();
    const listing = names({ name: 'x', capabilities: ['listing'], createStore, createPeer });
    expect(listing.filter((name) => name.startsWith('nodes'))).toEqual([shared]);
    const all = names({ name: 'x', capabilities: ALL, createStore, createPeer });
    expect(all.filter((name) => name.startsWith('nodes'))).toEqual([
      shared,
      'nodes > counts a rate limit’s name and key across nodes',
      'nodes > delivers what another node deleted, rotated and expired, in order',
    ]);
  });
});

describe('the declaration test', () => {
  it('passes a store that declares exactly what it has', async () => {
    await declaration(() => new MemoryStore(), ALL);
    await declaration(() => coreOnly(new MemoryStore()), []);
  });

  it('fails a store that has a capability it does not declare', async () => {
    await expect(declaration(() => new MemoryStore(), ['listing'])).rejects.toThrow(
      /memory declares \[listing\] and has .*"idempotency":\["claimIdempotencyKey"/,
    );
  });

  it('fails a store that lacks a capability it declares', async () => {
    await expect(declaration(() => coreOnly(new MemoryStore()), ['listing'])).rejects.toThrow(
      /declares \[listing\] and has .*"listing":\[\]/,
    );
  });

  it('fails a store with part of a capability, declared or not', async () => {
    const others = ALL.filter((capability) => capability !== 'idempotency');
    await expect(declaration(withoutRelease, ALL)).rejects.toThrow(/declares/);
    await expect(declaration(withoutRelease, others)).rejects.toThrow(/declares/);
  });

  it('fails names that are no capability', async () => {
    const bogus = ['listing', 'teleport'] as unknown as StoreCapability[];
    await expect(declaration(() => new MemoryStore(), bogus)).rejects.toThrow(/teleport/);
  });
});

describe('a capability’s tests', () => {
  it('fail at once on a store that declared the capability without its methods', async () => {
    const tests = registered({
      name: 'x',
      capabilities: ['listing'],
      createStore: () => coreOnly(new MemoryStore()),
    });
    const [name, run] =
      [...tests].find(([test]) => test.startsWith('capabilities > listing')) ?? [];
    expect(name).toBeDefined();
    await expect(run?.()).rejects.toThrow('memory declares listing but lacks some of its methods');
  });
});
