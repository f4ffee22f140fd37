/**
 * What a conformance suite needs of a test runner: the functions that
 * register suites, tests and hooks. vitest's and `node:test`'s fit as they
 * are, so the suites run under either, and the package never imports one.
 *
 * @example
 * import { afterEach, beforeEach, describe, test } from 'vitest'; // or 'node:test'
 * const runner: TestRunner = { describe, test, beforeEach, afterEach };
 */
export interface TestRunner {
  /** Groups the tests `body` registers. */
  describe(name: string, body: () => void): unknown;
  /** Registers a test. */
  test(name: string, body: () => Promise<void> | void): unknown;
  /** Runs `hook` before each test of the enclosing `describe`. */
  beforeEach(hook: () => Promise<void> | void): unknown;
  /** Runs `hook` after each test of the enclosing `describe`. */
  afterEach(hook: () => Promise<void> | void): unknown;
}
