#!/usr/bin/env node
// `npm run stress`: runs the test suites several rounds in a row beside a CPU
// hog (one busy-looping child process per core), to show that no test depends
// on a timer firing in time or a sleep being long enough. Builds once first.
//
//   node scripts/stress-test.mjs [--rounds N] [--e2e] [--no-build]
//
// Prints a table of pass/fail and duration per suite per round, and exits
// non-zero when any run failed. The hog children are stopped by PID in every
// case: after the last round, on an error, and on SIGINT/SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const toolsBin = join(root, '.tools', 'node_modules', '.bin');
const pnpmBin = join(toolsBin, 'pnpm');
const env = {
  ...process.env,
  PATH: `${toolsBin}:${process.env.PATH ?? ''}`,
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
};

function parseArgs(argv) {
  const options = { rounds: 3, e2e: false, build: true };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--e2e') options.e2e = true;
    else if (arg === '--no-build') options.build = false;
    else if (arg === '--rounds' || arg.startsWith('--rounds=')) {
      const value = arg.includes('=') ? arg.slice('--rounds='.length) : argv[++i];
      options.rounds = Number(value);
      if (!Number.isInteger(options.rounds) || options.rounds < 1) {
        fail(`--rounds wants a whole number ≥ 1, got ${value}`);
      }
    } else fail(`unknown argument ${arg}; use --rounds N, --e2e, --no-build`);
  }
  return options;
}

function fail(message) {
  process.stderr.write(`[stress] ${message}\n`);
  process.exit(2);
}

function log(message) {
  process.stdout.write(`[stress] ${message}\n`);
}

/** One busy-looping Node child per core; returns a function that stops them by PID. */
function startHog(count) {
  const children = [];
  for (let i = 0; i < count; i += 1) {
    const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    child.on('error', () => {});
    children.push(child);
  }
  log(`CPU hog: ${count} busy child processes (PIDs ${children.map((c) => c.pid).join(', ')})`);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {}
      }
    }
    log(`CPU hog stopped (PIDs ${children.map((c) => c.pid).join(', ')})`);
  };
}

/** The suite's test run currently going, so a signal can stop it (its process group). */
let running;

function runSuite(filter) {
  return new Promise((resolve) => {
    const started = Date.now();
    // A group of its own, so an interrupt can stop the run with its workers by PID.
    const child = spawn(pnpmBin, ['--filter', filter, 'test'], {
      cwd: root,
      env,
      stdio: 'inherit',
      detached: true,
    });
    running = child;
    const done = (code) => {
      running = undefined;
      resolve({ ok: code === 0, ms: Date.now() - started, code });
    };
    child.once('error', (error) => {
      log(`${filter}: could not start: ${error.message}`);
      done(1);
    });
    child.once('exit', (code, signal) => done(signal ? 1 : (code ?? 1)));
  });
}

function stopRunning() {
  const child = running;
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {}
}

function table(suites, results, rounds) {
  const header = ['suite', ...Array.from({ length: rounds }, (_, i) => `round ${i + 1}`)];
  const rows = suites.map((suite) => [
    suite,
    ...Array.from({ length: rounds }, (_, round) => {
      const result = results.get(suite)?.[round];
      if (result === undefined) return '—';
      return `${result.ok ? 'pass' : 'FAIL'} ${(result.ms / 1000).toFixed(1)} s`;
    }),
  ]);
  const widths = header.map((_, col) => Math.max(...[header, ...rows].map((r) => r[col].length)));
  const line = (cells) => `| ${cells.map((cell, col) => cell.padEnd(widths[col])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const options = parseArgs(process.argv.slice(2));
const suites = ['@morgan/session-server', '@morgan/session-client', '@morgan/demo'];
if (options.e2e) suites.push('@morgan/e2e');
const results = new Map(suites.map((suite) => [suite, []]));

if (options.build) {
  log('building once');
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'morgan.mjs'), 'build'], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (build.status !== 0) fail(`build failed with exit code ${build.status}`);
}

const cores = availableParallelism();
const stopHog = startHog(cores);
process.once('exit', stopHog);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    stopRunning();
    stopHog();
    process.stdout.write(`${table(suites, results, options.rounds)}\n`);
    process.exit(130);
  });
}

const startedAt = Date.now();
try {
  for (let round = 0; round < options.rounds; round += 1) {
    for (const suite of suites) {
      log(`round ${round + 1}/${options.rounds}: ${suite}`);
      const result = await runSuite(suite);
      results.get(suite)?.push(result);
      log(
        `round ${round + 1}/${options.rounds}: ${suite} ${result.ok ? 'passed' : `FAILED (exit ${result.code})`} in ${(result.ms / 1000).toFixed(1)} s`,
      );
    }
  }
} finally {
  stopHog();
}

const failed = [...results.values()].flat().filter((result) => !result.ok).length;
process.stdout.write(
  `\nStress summary: ${options.rounds} round(s) beside ${cores} busy core(s), ${((Date.now() - startedAt) / 60_000).toFixed(1)} min\n`,
);
process.stdout.write(`${table(suites, results, options.rounds)}\n`);
process.stdout.write(failed === 0 ? 'All runs passed.\n' : `${failed} run(s) failed.\n`);
process.exit(failed === 0 ? 0 : 1);
