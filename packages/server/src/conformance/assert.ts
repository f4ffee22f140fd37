import assert from 'node:assert/strict';

/**
 * Asserts that `actual` deeply equals `expected`, properties whose value is
 * undefined counting as absent (a store may leave out an empty optional
 * field or keep it as undefined).
 */
export function same(actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(withoutUndefined(actual), withoutUndefined(expected), message);
}

/** Asserts that each property of `expected` deeply equals the one of `actual` (as `same`). */
export function matches(actual: unknown, expected: Record<string, unknown>): void {
  assert.ok(typeof actual === 'object' && actual !== null, `expected an object, got ${actual}`);
  const picked = Object.fromEntries(
    Object.keys(expected).map((key) => [key, (actual as Record<string, unknown>)[key]]),
  );
  same(picked, expected);
}

/** Waits until `check()` holds, polling every 5 ms, for at most `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (typeof value !== 'object' || value === null) return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, field]) => field !== undefined)
      .map(([key, field]) => [key, withoutUndefined(field)]),
  );
}
