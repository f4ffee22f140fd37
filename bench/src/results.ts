// Raw figures of a benchmark run, written to bench/results/<id>.json with the
// run's date, node version and commit, so that the numbers a README quotes can
// be traced to a run. The runner (run.ts) adds the rows it printed for the
// target (`printed`), which scripts/bench-table.mjs turns into the README's
// Performance table.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './target.js';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Files written since the last `takeWritten()`. */
const written: string[] = [];

/** Writes `figures` as bench/results/<id>.json; returns the path. */
export function writeResults(id: string, figures: object): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${id}.json`);
  const run = {
    id,
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    ...figures,
  };
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  if (!written.includes(file)) written.push(file);
  return file;
}

/** The results files written since the last call, and forgets them. */
export function takeWritten(): string[] {
  return written.splice(0, written.length);
}

/**
 * Adds the rows the runner printed for a target to a results file it wrote, as
 * `printed` (id, what, measured, target, met, detail), unless the target wrote
 * them itself.
 */
export function addPrintedRows(file: string, rows: BenchResult[]): void {
  const run = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (run.printed !== undefined) return;
  run.printed = rows;
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
}

/** The commit this run measured, `+dirty` when tracked files (results aside) had changes. */
export function gitCommit(): string {
  const git = (args: string[]) => spawnSync('git', args, { encoding: 'utf8' }).stdout.trim();
  const changed = git([
    'status',
    '--porcelain',
    '--untracked-files=no',
    '--',
    ':(top)',
    ':(top,exclude)bench/results',
  ]);
  return `${git(['rev-parse', 'HEAD'])}${changed === '' ? '' : '+dirty'}`;
}
