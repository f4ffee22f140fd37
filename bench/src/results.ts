// Raw figures of a benchmark run, written to bench/results/<id>.json with the
// run's date, so that the numbers a README quotes can be traced to a run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

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
  return file;
}
