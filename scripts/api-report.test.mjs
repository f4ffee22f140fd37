// The committed API report (api/*.api.md) is what the build exports, and
// each name has one home: a change to the public surface must show in
// review as a change to the report (`node scripts/api-report.mjs --write`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { packageReport, reportedPackages } from './api-report.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

for (const { dir, report } of reportedPackages) {
  test(`${report} is the public surface of ${dir} as built`, () => {
    const { text } = packageReport(dir);
    const committed = readFileSync(join(root, report), 'utf8');
    assert.equal(
      committed,
      text,
      `${report} differs from the build: run \`node scripts/api-report.mjs --write\` and review the change`,
    );
  });

  test(`${dir}: each exported name has one entry (the protocol entry aside)`, () => {
    assert.deepEqual(packageReport(dir).shared, []);
  });
}
