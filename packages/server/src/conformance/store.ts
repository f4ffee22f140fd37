import type { Store } from '../store/store.js';
import type { StoreConformanceOptions } from './fixture.js';
import type { TestRunner } from './runner.js';
import { describeStoreCapabilities } from './store-capabilities.js';
import { describeStoreCore } from './store-core.js';

export type { StoreConformanceOptions } from './fixture.js';

/**
 * The rules of `Store` as tests that run unchanged against every store:
 * the required core always, each optional capability when the store has it
 * (skipped with a note otherwise), and what nodes share when `createPeer`
 * is given. Each test gets a fresh store from `createStore`, configured with
 * a one-minute timeout, and closes it afterwards. Time is passed explicitly
 * as `now`, starting at the real clock and moving forwards only.
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
 *   { name: 'MyStore', createStore: () => new MyStore() },
 * );
 */
export function describeStoreConformance<S extends Store>(
  runner: TestRunner,
  options: StoreConformanceOptions<S>,
): void {
  runner.describe(`Store conformance: ${options.name}`, () => {
    describeStoreCore(runner, options);
    describeStoreCapabilities(runner, options);
  });
}
