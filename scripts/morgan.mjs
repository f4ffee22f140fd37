#!/usr/bin/env node
// The one entry point behind `npm start`, `npm test`, `npm run bench`.
// It installs whatever is missing on a fresh machine that has only Node 20
// and npm: pnpm (from the npm registry, into .tools/), the workspace's
// packages, and the Debian packages redis-server, nginx (the load balancer
// of the multi-node e2e spec and of P8) and, for tests, chromium.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isCI = process.env.CI === 'true' || process.env.CI === '1';
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = pkg.packageManager.split('@')[1];
const toolsDir = join(root, '.tools');
const pnpmBin = join(toolsDir, 'node_modules', '.bin', 'pnpm');
const env = {
  ...process.env,
  PATH: `${join(toolsDir, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
};

function log(message) {
  process.stdout.write(`[morgan] ${message}\n`);
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function must(cmd, args, options) {
  const status = run(cmd, args, options);
  if (status !== 0) {
    log(`\`${cmd} ${args.join(' ')}\` failed with exit code ${status}`);
    process.exit(status);
  }
}

/** True when `command` runs here: on PATH, or in /usr/sbin (Debian's nginx, off a user's PATH). */
function has(command) {
  const probe = `command -v ${command} || test -x /usr/sbin/${command}`;
  return spawnSync('sh', ['-c', probe], { stdio: 'ignore' }).status === 0;
}

function ensurePnpm() {
  if (existsSync(pnpmBin)) return;
  log(`installing pnpm@${pnpmVersion} into .tools/`);
  mkdirSync(toolsDir, { recursive: true });
  writeFileSync(join(toolsDir, 'package.json'), '{"private":true}\n');
  must('npm', [
    'install',
    '--no-save',
    '--no-package-lock',
    '--prefix',
    toolsDir,
    `pnpm@${pnpmVersion}`,
  ]);
}

function pnpm(args, options) {
  return run(pnpmBin, args, options);
}

function ensureDependencies() {
  const lock = join(root, 'pnpm-lock.yaml');
  const stamp = join(root, 'node_modules', '.morgan-install-stamp');
  const wanted = existsSync(lock)
    ? createHash('sha256').update(readFileSync(lock)).digest('hex')
    : 'no-lock';
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return;
  log('installing workspace dependencies');
  const args = ['install'];
  if (existsSync(lock)) args.push('--frozen-lockfile');
  if (pnpm(args) !== 0) process.exit(1);
  const after = existsSync(lock)
    ? createHash('sha256').update(readFileSync(lock)).digest('hex')
    : 'no-lock';
  writeFileSync(stamp, after);
}

/** Installs Debian packages that provide `commands`, failing loudly under CI. */
function ensureSystemPackages(wanted) {
  const missing = wanted.filter(({ command }) => !has(command));
  if (missing.length === 0) return;
  const names = missing.map(({ debian }) => debian);
  log(`installing Debian packages: ${names.join(', ')}`);
  const apt = (args) => {
    const argv =
      process.getuid?.() === 0 ? ['apt-get', ...args] : ['sudo', '-n', 'apt-get', ...args];
    return run(argv[0], argv.slice(1), { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  const install =
    apt(['update']) === 0 && apt(['install', '-y', '--no-install-recommends', ...names]) === 0;
  const still = missing.filter(({ command }) => !has(command));
  if (!install || still.length > 0) {
    const message = `could not install ${still.map((s) => s.debian).join(', ')} (apt-get as root is needed)`;
    if (isCI) {
      log(`${message}; failing because CI=true`);
      process.exit(1);
    }
    log(`${message}; tests that need them will fail`);
  }
}

function build() {
  if (pnpm(['turbo', 'run', 'build', '--output-logs=errors-only']) !== 0) process.exit(1);
}

/**
 * `tsc --noEmit` over every package's tsconfig.json, tests, bench and e2e
 * included: type-level tests (`expectTypeOf`, `@ts-expect-error`) do nothing
 * at run time, so only the compiler can fail them. Never cached by turbo.
 */
function typecheck() {
  const args = ['run', 'typecheck', '--continue', '--concurrency=2', '--output-logs=errors-only'];
  if (pnpm(['turbo', ...args]) !== 0) process.exit(1);
}

/** The harness's own tests, `scripts/*.test.mjs` (for example, that typecheck fails when it should). */
function harnessTests() {
  const files = readdirSync(join(root, 'scripts'))
    .filter((name) => name.endsWith('.test.mjs'))
    .map((name) => join('scripts', name));
  if (files.length > 0) must(process.execPath, ['--test', ...files]);
}

const command = process.argv[2] ?? 'test';
ensurePnpm();
ensureDependencies();

switch (command) {
  case 'start': {
    build();
    process.exit(pnpm(['--filter', '@morgan/demo', 'run', 'start']));
    break;
  }
  case 'test': {
    const needs = [
      { command: 'chromium', debian: 'chromium' },
      { command: 'nginx', debian: 'nginx' },
    ];
    if (!process.env.REDIS_URL) needs.push({ command: 'redis-server', debian: 'redis-server' });
    ensureSystemPackages(needs);
    build();
    if (pnpm(['exec', 'biome', 'check', '.']) !== 0) process.exit(1);
    typecheck();
    harnessTests();
    // One package at a time: the machine has two cores and the suites start
    // real servers, so running them side by side only adds noise.
    process.exit(pnpm(['turbo', 'run', 'test', '--concurrency=1', '--output-logs=full']));
    break;
  }
  case 'screenshots': {
    // The README's pictures come from the e2e scenes tagged @readme-screenshots;
    // only this command lets them write into the tracked e2e/screenshots/.
    ensureSystemPackages([{ command: 'chromium', debian: 'chromium' }]);
    build();
    const e2e = ['--filter', '@morgan/e2e', 'exec', 'playwright', 'test'];
    process.exit(
      pnpm([...e2e, '--grep', '@readme-screenshots'], {
        env: { ...env, MORGAN_README_SCREENSHOTS: '1' },
      }),
    );
    break;
  }
  case 'bench': {
    // P8 runs three demo nodes behind nginx; P7 and P8 start their own Redis.
    const ids = process.argv.slice(3).map((id) => id.toUpperCase());
    const runs = (id) => ids.length === 0 || ids.includes(id);
    const needs = [];
    if (runs('P8')) needs.push({ command: 'nginx', debian: 'nginx' });
    if (!process.env.REDIS_URL && (runs('P7') || runs('P8'))) {
      needs.push({ command: 'redis-server', debian: 'redis-server' });
    }
    ensureSystemPackages(needs);
    build();
    process.exit(pnpm(['--filter', '@morgan/bench', 'run', 'bench', ...process.argv.slice(3)]));
    break;
  }
  case 'build': {
    build();
    break;
  }
  case 'typecheck': {
    build();
    typecheck();
    break;
  }
  case 'lint': {
    process.exit(pnpm(['exec', 'biome', 'check', '.']));
    break;
  }
  default:
    log(
      `unknown command ${command}; use start, test, typecheck, screenshots, bench, build or lint`,
    );
    process.exit(2);
}
