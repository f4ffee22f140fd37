import { existsSync } from 'node:fs';

/** Flags that keep Debian's Chromium quiet and offline inside containers. */
export const launchArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/**
 * The system Chromium (Debian's `chromium` package), never a downloaded one.
 * `CHROMIUM_PATH` overrides the default `/usr/bin/chromium`.
 */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `Chromium not found at ${path}. Install Debian's chromium (apt-get install chromium; ` +
        '`npm test` does this) or set CHROMIUM_PATH.',
    );
  }
  return path;
}
