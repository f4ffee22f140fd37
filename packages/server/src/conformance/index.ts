/**
 * The conformance suites of `Store` and `EventLog`, for authors of other
 * stores (Postgres, DynamoDB, …) to run in their own repository: the same
 * tests `MemoryStore`, `RedisStore`, `MemoryEventLog` and `RedisEventLog`
 * pass. The suites register their tests with the runner functions you
 * pass, so they run under vitest or `node:test` alike, and this entry
 * imports no test framework. See docs/stores.md.
 *
 * @example
 * // my-store.test.ts, run with `node --test` (after tsc), or under vitest
 * import { afterEach, beforeEach, describe, test } from 'node:test';
 * import { describeStoreConformance } from '@morgan/session-server/testing';
 * import { MyStore } from './my-store.js';
 *
 * describeStoreConformance(
 *   { describe, test, beforeEach, afterEach },
 *   { name: 'MyStore', capabilities: ['listing'], createStore: () => new MyStore() },
 * );
 *
 * @module \@morgan/session-server/testing
 */

export { describeEventLogConformance, type EventLogConformanceOptions } from './event-log.js';
export { sessionRecord } from './records.js';
export type { TestRunner } from './runner.js';
export { describeStoreConformance, type StoreConformanceOptions } from './store.js';
