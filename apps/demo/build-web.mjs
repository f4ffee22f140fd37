#!/usr/bin/env node
// Builds the demo's browser code: type-checks web/ and bundles the chat page
// and the admin dashboard with esbuild into public/build/ (served at /build).
// Runs as part of the demo's `build` script, which `npm start` and `npm test`
// run through turbo. `--watch` rebuilds on change while developing.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, 'public', 'build');
const watch = process.argv.includes('--watch');

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const check = spawnSync(process.execPath, [tsc, '-p', join(here, 'web', 'tsconfig.json')], {
  stdio: 'inherit',
});
if (check.status !== 0) {
  process.stderr.write('build-web: type errors in web/ (see above)\n');
  process.exit(check.status ?? 1);
}

rmSync(outdir, { recursive: true, force: true });

/** @type {import('esbuild').BuildOptions} */
const options = {
  absWorkingDir: here,
  entryPoints: { chat: 'web/chat/main.ts', admin: 'web/admin/main.ts' },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  minify: !watch,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  process.stdout.write(`build-web: watching web/ → ${outdir}\n`);
} else {
  const result = await esbuild.build(options);
  const outputs = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, info]) => `${file.split('/').pop()} ${(info.bytes / 1024).toFixed(1)} KiB`);
  process.stdout.write(`build-web: ${outputs.join(', ')}\n`);
}
