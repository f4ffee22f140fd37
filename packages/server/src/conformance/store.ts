import type { Store } from '../store/store.js';
import { type StoreConformanceOptions, storeSuite } from './fixture.js';
import type { TestRunner } from './runner.js';
import { capabilityTests, declarationTest } from './store-capabilities.js';
import { expiryTests } from './store-expiry.js';
import { nodeTests } from './store-nodes.js';
import { recordTests } from './store-records.js';
import { requestTests } from './store-requests.js';

export type { StoreConformanceOptions } from './fixture.js';

/**
 * The rules of `Store` as tests that run unchanged against every store.
 * Which tests exist is decided when they are registered, so none is ever
 * skipped: the required core always (with one test that the store has
 * exactly the `capabilities` it declares), the tests of each declared
 * capability, and what nodes share when `createPeer` is given. Each test
 * gets a fresh store from `createStore`, configured with a one-minute
 * timeout, and closes it afterwards. Time is passed explicitly as `now`,
 * starting at the real clock and moving forwards only.
 *
 * Call it at the top level of a test file, with your runner's functions.
 *
 * @example
 * // my-store.test.ts, under vitest (or import the same four from 'node:test')
 * import { afterEach, beforeEach, describe, test } from 'vitest';
 * import { describeStoreConformance } from '@morgan/session-server/testing';
 * import { MyStore } from './my-store.js';
 *
 * describeStoreConformance(
 *   { describe, test, beforeEach, afterEach },
 *   { name: 'MyStore', capabilities: ['listing'], createStore: () => new MyStore() },
 * );
 */
export function describeStoreConformance<S extends Store>(
  runner: TestRunner,
  options: StoreConformanceOptions<S>,
): void {
  const { describe } = runner;
  const { capabilities, createPeer } = options;
  describe(`Store conformance: ${options.name}`, () => {
    describe('core', () => {
      const suite = storeSuite(runner, options);
      declarationTest(suite, capabilities);
      recordTests(suite);
      requestTests(suite);
      expiryTests(suite);
    });
    if (capabilities.length > 0) {
      describe('capabilities', () => capabilityTests(storeSuite(runner, options), capabilities));
    }
    if (createPeer !== undefined) {
      describe('nodes', () =>
        nodeTests(storeSuite(runner, options), capabilities, (store) =>
          createPeer.call(options, store as S),
        ));
    }
  });
}
