import { fileURLToPath } from 'node:url';
import { test } from '@playwright/test';

/** The README's pictures: tracked, and written only by `npm run screenshots`. */
export const readmeScreenshotsDir = fileURLToPath(new URL('../screenshots/', import.meta.url));

/**
 * Where the running test saves the screenshot `name` (for example `chat.png`):
 * in its own output folder under e2e/test-results/ (ignored by git) on an
 * ordinary run, so `npm test` leaves the work tree as it found it; in
 * e2e/screenshots/, which the README shows, when `npm run screenshots` sets
 * `MORGAN_README_SCREENSHOTS=1`. Tests that take the README's pictures carry
 * the `@readme-screenshots` tag in their title, which is what that command runs.
 */
export function screenshotPath(name: string): string {
  if (process.env.MORGAN_README_SCREENSHOTS === '1') return `${readmeScreenshotsDir}${name}`;
  return test.info().outputPath(name);
}
