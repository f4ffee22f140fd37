// examples/custom-store as a store author has it: the server package is
// packed and installed with plain npm into a copy of the example outside
// the workspace, the example is compiled by tsc against the published
// types (a full library check), and its node:test file runs the published
// conformance suite (@morgan/session-server/testing) against its own store.
// A store that breaks a rule, or declares other capabilities than it has,
// must fail that suite. Outside CI an unreachable registry skips the test
// with a message; under CI=true it fails.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { npmInstall, packPackages, registryAnswers, root, run } from './support.mjs';

const example = join(root, 'examples', 'custom-store');
const manifest = JSON.parse(readFileSync(join(example, 'package.json'), 'utf8'));

let packDir;
let tarballs;
let online;

before(async () => {
  online = await registryAnswers();
  ({ dir: packDir, tarballs } = await packPackages(['server']));
});

after(() => {
  if (packDir) rmSync(packDir, { recursive: true, force: true });
});

test('examples/custom-store passes the published conformance suite under node:test', {
  timeout: 600_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'morgan-custom-store-'));
  try {
    cpSync(example, dir, {
      recursive: true,
      filter: (source) => !/[/\\](node_modules|dist)$/.test(source),
    });
    const devDependencies = Object.entries(manifest.devDependencies).map(
      ([name, range]) => `${name}@${range}`,
    );
    if ((await npmInstall(t, dir, [...tarballs, ...devDependencies], { online })) === undefined) {
      return;
    }
    const passed = await run('npm', ['test'], { cwd: dir, timeoutMs: 180_000 });
    assert.equal(passed.code, 0, `npm test failed in ${dir}:\n${passed.output}`);
    assert.match(passed.output, /Store conformance: MapStore/);
    assert.match(passed.output, /has exactly the optional capabilities it declares/);
    assert.match(passed.output, /ℹ fail 0/);
    assert.match(passed.output, /ℹ skipped 0/, 'only the tests that apply are registered');
    assert.doesNotMatch(
      passed.output,
      /claims a new key once/,
      'no tests of undeclared idempotency',
    );

    // The same suite on a store that forgets its sessions' count, and on
    // MapStore declaring less than it has: each must fail.
    writeFileSync(
      join(dir, 'dist', 'broken.test.js'),
      `import { afterEach, beforeEach, describe, test } from 'node:test';
import { describeStoreConformance } from '@morgan/session-server/testing';
import { MapStore } from './map-store.js';

class Forgetful extends MapStore {
  async count() {
    return 0;
  }
}
describeStoreConformance(
  { describe, test, beforeEach, afterEach },
  { name: 'Forgetful', capabilities: ['listing'], createStore: () => new Forgetful() },
);
describeStoreConformance(
  { describe, test, beforeEach, afterEach },
  { name: 'Undeclared', capabilities: [], createStore: () => new MapStore() },
);
`,
    );
    const broken = await run(
      process.execPath,
      ['--test', '--test-reporter=tap', 'dist/broken.test.js'],
      {
        cwd: dir,
        timeoutMs: 60_000,
      },
    );
    assert.notEqual(broken.code, 0, `a store that breaks the rules passed:\n${broken.output}`);
    assert.match(broken.output, /not ok \d+ - counts stored sessions/);
    assert.match(
      broken.output,
      /not ok \d+ - has exactly the optional capabilities it declares[^\n]*\n[\s\S]*?map declares \[\] and has \{[^}]*"listing":\["list"\]/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
