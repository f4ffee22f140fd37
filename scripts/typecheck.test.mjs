// Harness tests for the typecheck step of `npm test` (run by scripts/morgan.mjs
// with `node --test`, after `turbo run typecheck`). Type-level tests
// (`expectTypeOf`, `@ts-expect-error`) are no-ops at run time, so only the
// compiler can fail them: these tests prove that every TypeScript file of every
// workspace package is in a program the typecheck task compiles, and that a
// wrong expectation really makes that task exit non-zero.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const toolsBin = join(root, '.tools', 'node_modules', '.bin');
const pnpm = existsSync(join(toolsBin, 'pnpm')) ? join(toolsBin, 'pnpm') : 'pnpm';

/** Directories that hold no source of ours: installs, build output, test artefacts. */
const SKIPPED_DIRS = new Set([
  'node_modules',
  'dist',
  'build',
  'test-results',
  'playwright-report',
]);
/** Loaded by vitest itself (bundled by it, not by tsc); no test code lives there. */
const SKIPPED_FILES = new Set(['vitest.config.ts']);

/**
 * Package directories named by pnpm-workspace.yaml (`dir` or `dir/*` entries),
 * less those its `!dir` entries exclude (examples/custom-store installs the
 * packed package with npm; tests/install compiles it).
 */
function workspacePackages() {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const entries = [...yaml.matchAll(/^\s+-\s+['"]?([^'"\s]+)['"]?\s*$/gm)].map((m) => m[1]);
  const excluded = new Set(
    entries.filter((entry) => entry.startsWith('!')).map((entry) => join(root, entry.slice(1))),
  );
  const globs = entries.filter((entry) => !entry.startsWith('!'));
  const dirs = globs.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [join(root, glob)];
    const parent = join(root, glob.slice(0, -2));
    return readdirSync(parent).map((name) => join(parent, name));
  });
  return dirs.filter((dir) => !excluded.has(dir) && existsSync(join(dir, 'package.json')));
}

function typeScriptFiles(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.') || SKIPPED_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...typeScriptFiles(path));
    else if (/\.[cm]?tsx?$/.test(name) && !name.endsWith('.d.ts') && !SKIPPED_FILES.has(name))
      found.push(path);
  }
  return found;
}

/** The files a tsconfig puts in its program (include/exclude/files), without compiling. */
function configFiles(configPath) {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  return parsed.fileNames.map((file) => resolve(file));
}

test('every workspace package typechecks all of its TypeScript, tests included', () => {
  const packages = workspacePackages();
  assert.ok(packages.length >= 5, `found only ${packages.length} workspace packages`);
  for (const dir of packages) {
    const name = relative(root, dir);
    const files = typeScriptFiles(dir);
    if (files.length === 0) continue;
    const script = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).scripts?.typecheck;
    assert.ok(script, `${name}/package.json has no "typecheck" script, so npm test skips it`);
    const configs = [...script.matchAll(/\btsc\s+-p\s+(\S+)/g)].map((m) => join(dir, m[1]));
    assert.ok(configs.length > 0, `${name}: "typecheck" runs no \`tsc -p <tsconfig>\``);
    const checked = new Set(configs.flatMap(configFiles));
    const missing = files.filter((file) => !checked.has(file)).map((file) => relative(root, file));
    assert.deepEqual(missing, [], `${name}: files outside every tsconfig its typecheck runs`);
  }
});

test('a wrong expectTypeOf or an unused @ts-expect-error fails the typecheck task', () => {
  const srcDir = join(root, 'packages', 'client', 'src');
  // A probe left behind by a killed run would fail every later typecheck: clear it first.
  for (const name of readdirSync(srcDir)) {
    if (/^typecheck-probe-\d+\.test\.ts$/.test(name)) rmSync(join(srcDir, name));
  }
  const probeName = `typecheck-probe-${process.pid}.test.ts`;
  const probe = join(srcDir, probeName);
  const lines = [
    '// Written and removed by scripts/typecheck.test.mjs: two type errors on purpose.',
    "import { expectTypeOf, test } from 'vitest';",
    "import type { ConnectionState } from './index.js';",
    "test('typecheck probe', () => {",
    "  expectTypeOf<ConnectionState>().toEqualTypeOf<'idle' | 'connected'>();",
    '  // @ts-expect-error there is no error on the next line, so this directive is one',
    '  expectTypeOf<ConnectionState>().toEqualTypeOf<ConnectionState>();',
    '});',
    '',
  ];
  const wrongLine = lines.findIndex((line) => line.includes("'idle' | 'connected'")) + 1;
  const directiveLine = lines.findIndex((line) => line.includes('@ts-expect-error')) + 1;
  writeFileSync(probe, lines.join('\n'));
  let result;
  try {
    // The task `npm test` runs, for the package that holds the probe only (its
    // dependencies were built before, so `--only` skips them).
    result = spawnSync(
      pnpm,
      [
        'turbo',
        'run',
        'typecheck',
        '--filter=@morgan/session-client',
        '--only',
        '--output-logs=errors-only',
        '--log-prefix=none',
      ],
      {
        cwd: root,
        encoding: 'utf8',
        env: {
          ...process.env,
          PATH: `${toolsBin}:${process.env.PATH ?? ''}`,
          TURBO_TELEMETRY_DISABLED: '1',
          TURBO_NO_UPDATE_NOTIFIER: '1',
        },
      },
    );
  } finally {
    rmSync(probe, { force: true });
  }
  const output = `${result.stdout}${result.stderr}`;
  assert.notEqual(result.status, 0, `typecheck passed with a wrong expectTypeOf:\n${output}`);
  const at = (line) => `${probeName.replaceAll('.', '\\.')}\\(${line},\\d+\\): error`;
  assert.match(output, new RegExp(`${at(wrongLine)} TS2344`), output);
  assert.match(output, new RegExp(`${at(directiveLine)} TS2578`), output);
});
