// Child processes with a deadline, a clean environment for npm, free ports
// and the README samples: what install.test.mjs and custom-store.test.mjs need.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const isCI = process.env.CI === 'true' || process.env.CI === '1';
const localPnpm = join(root, '.tools', 'node_modules', '.bin', 'pnpm');
const pnpm = existsSync(localPnpm) ? localPnpm : 'pnpm';

/**
 * Packs `packages/<name>` for each name with `pnpm pack` (which turns
 * `workspace:` ranges into versions) into a new temporary directory;
 * resolves with that directory and the tarballs' paths.
 */
export async function packPackages(names) {
  const dir = mkdtempSync(join(tmpdir(), 'morgan-pack-'));
  for (const name of names) {
    const packed = await run(pnpm, ['pack', '--pack-destination', dir], {
      cwd: join(root, 'packages', name),
      env: cleanEnv(),
      timeoutMs: 60_000,
    });
    assert.equal(packed.code, 0, `pnpm pack in packages/${name} failed:\n${packed.output}`);
  }
  const tarballs = readdirSync(dir).map((file) => join(dir, file));
  assert.equal(tarballs.length, names.length, `expected ${names.length} tarballs in ${dir}`);
  return { dir, tarballs };
}

/** Whether `npm ping` got an answer; if not, installs use npm's cache alone (`--offline`). */
export async function registryAnswers() {
  const ping = await run('npm', ['ping', '--fetch-retries=0', '--fetch-timeout=15000'], {
    cwd: root,
    timeoutMs: 30_000,
  }).catch(() => ({ code: 1 }));
  return ping.code === 0;
}

/**
 * `npm install` of `dependencies` in `dir`; resolves with npm's output, or
 * undefined when the test was skipped: outside CI an unreachable registry
 * (or, offline, a cache without a package) skips it with a message, under
 * CI=true it fails. Cached versions are used without asking the registry
 * again; without a registry, the cache alone, which fails at once if it
 * lacks a package (npm's retries would take minutes and end in a
 * misleading ERESOLVE).
 */
export async function npmInstall(t, dir, dependencies, { online }) {
  const args = [
    'install',
    '--no-audit',
    '--no-fund',
    online ? '--prefer-offline' : '--offline',
    '--fetch-retries=2',
    '--fetch-retry-mintimeout=1000',
    '--fetch-retry-maxtimeout=10000',
    ...dependencies,
  ];
  const result = await run('npm', args, { cwd: dir, timeoutMs: 300_000 });
  if (result.code === 0) return result.output;
  if (!online || isNetworkFailure(result.output)) {
    const why = online
      ? 'the registry stopped answering'
      : 'npm ping got no answer from the registry and the npm cache lacks a package';
    if (!isCI) {
      t.skip(`${why}; skipped because CI is not set (under CI=true this fails)`);
      return undefined;
    }
    assert.fail(`npm install failed: ${why} (CI=true):\n${result.output}`);
  }
  assert.fail(`npm install failed:\n${result.output}`);
}

/**
 * The environment without what pnpm and turbo set for their scripts
 * (`npm_config_globalconfig` pointing at pnpm's rc, `npm_config_node_gyp`,
 * `npm_package_*`, …), which would change what npm does, and the test
 * runner's own context. npm settings a
 * machine may really need (registry, proxies, certificates, cache) stay.
 */
export function cleanEnv(extra = {}) {
  const keep =
    /^npm_config_(registry|cafile|ca|cache|userconfig|proxy|https_proxy|noproxy|strict_ssl)$/i;
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm|pnpm)_/i.test(key) && !keep.test(key)) continue;
    // NODE_TEST_CONTEXT: a `node --test` started from a test would take itself for a nested run.
    if (/^(PNPM_|TURBO_|INIT_CWD$|NODE_OPTIONS$|NODE_TEST_CONTEXT$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs a command to its end, never longer than `timeoutMs`: on the deadline
 * its whole process group gets SIGKILL and the promise rejects with what it
 * printed. Resolves with the exit code and output; never rejects on a
 * non-zero exit (the caller asserts).
 */
export function run(command, args, { cwd, env = cleanEnv(), timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: 'pipe' });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`\`${command} ${args.join(' ')}\` took over ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

/**
 * Starts a long-running process and resolves once its output matches
 * `ready` (rejects if it exits first or `timeoutMs` passes). `stop()` sends
 * SIGTERM and resolves with the exit code, SIGKILLing after `stopTimeoutMs`.
 */
export function start(command, args, { cwd, env, ready, timeoutMs }) {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: 'pipe' });
  let output = '';
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child);
      reject(
        new Error(`\`${command} ${args.join(' ')}\` not ready after ${timeoutMs} ms:\n${output}`),
      );
    }, timeoutMs);
    const onData = (chunk) => {
      output += chunk;
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`\`${command} ${args.join(' ')}\` exited with ${code}:\n${output}`));
    });
  });
  return {
    started,
    output: () => output,
    async stop(stopTimeoutMs) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(child), stopTimeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    kill: () => killGroup(child),
  };
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A port free on the loopback interface right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** npm's output says the registry could not be reached (not that the install is wrong). */
export function isNetworkFailure(output) {
  return /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ERR_SOCKET_TIMEOUT)\b|npm error network/.test(
    output,
  );
}

/**
 * The ```ts samples of a Markdown file, by the file name on their first line
 * (`// server.ts`), the convention of scripts/readme.test.mjs.
 */
export function typeScriptSamples(path) {
  const samples = new Map();
  for (const [, code] of readFileSync(path, 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const name = /^\/\/ ([\w.-]+\.ts)\n/.exec(code)?.[1];
    if (name === undefined) throw new Error(`${path}: a ts sample without a // name.ts first line`);
    if (samples.has(name)) throw new Error(`${path}: two samples named ${name}`);
    samples.set(name, code);
  }
  return samples;
}
