// Morgan reaches tRPC through its public API only: no source file of either
// package (tests aside) and no published declaration or module imports
// tRPC's `unstable-core-do-not-import`, so a tRPC minor release cannot
// break Morgan without a type error in tRPC's own public types.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mts|cts)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => !/\.test\.ts$|\.test-suite\.ts$|\/testing\//.test(file));
}

test.each(['server', 'client'])(
  '%s: no source or published file imports tRPC internals',
  (name) => {
    const shipped = [...files(join(packages, name, 'src')), ...files(join(packages, name, 'dist'))];
    expect(shipped.length).toBeGreaterThan(20);
    const offending = shipped.filter((file) =>
      readFileSync(file, 'utf8').includes('unstable-core-do-not-import'),
    );
    expect(offending).toEqual([]);
  },
);
