import { defineConfig } from 'vitest/config';

// As the server's and client's: vitest's 5 s default test timeout is no margin
// for tests that start servers and child processes on a busy two-core machine.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'web/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
