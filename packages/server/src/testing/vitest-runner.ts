import { afterEach, beforeEach, describe, test } from 'vitest';
import type { TestRunner } from '../conformance/runner.js';

/** vitest's functions, for the conformance suites (`@morgan/session-server/testing`). */
export const vitestRunner: TestRunner = { describe, test, beforeEach, afterEach };
