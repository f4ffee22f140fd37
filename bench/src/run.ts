// Runs every benchmark module in ./targets (or those whose ids are given as
// arguments: `npm run bench -- P3 P4`) and prints measured figures beside
// their SPEC targets. Figures are ratios against baselines from the same run.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { addPrintedRows, takeWritten } from './results.js';
import type { BenchResult, BenchTarget } from './target.js';

const wanted = new Set(process.argv.slice(2).map((id) => id.toUpperCase()));
const dir = join(dirname(fileURLToPath(import.meta.url)), 'targets');
const files = readdirSync(dir)
  .filter((file) => /\.ts$/.test(file) && !file.endsWith('.d.ts'))
  .sort();

const results: BenchResult[] = [];
for (const file of files) {
  const module = (await import(pathToFileURL(join(dir, file)).href)) as { default: BenchTarget };
  const target = module.default;
  if (wanted.size > 0 && !target.ids.some((id) => wanted.has(id.toUpperCase()))) continue;
  process.stdout.write(`\n== ${file} (${target.ids.join(', ')})\n`);
  try {
    takeWritten();
    const rows = await target.run();
    for (const row of rows) {
      results.push(row);
      process.stdout.write(`${formatRow(row)}\n`);
    }
    // The rows as printed go into the results file(s) the target wrote.
    for (const written of takeWritten()) addPrintedRows(written, rows);
  } catch (error) {
    const row: BenchResult = {
      id: target.ids.join('/'),
      what: `${file} failed`,
      measured: error instanceof Error ? error.message : String(error),
      target: '-',
      met: false,
    };
    results.push(row);
    process.stdout.write(`${formatRow(row)}\n`);
  }
}

process.stdout.write('\n== Summary\n');
process.stdout.write(
  `${pad('id', 6)}${pad('what', 58)}${pad('measured', 30)}${pad('target', 34)}met\n`,
);
for (const row of results) process.stdout.write(`${formatRow(row)}\n`);
process.exit(0);

function formatRow(row: BenchResult): string {
  const met = row.met === undefined ? '-' : row.met ? 'yes' : 'NO';
  const line = `${pad(row.id, 6)}${pad(row.what, 58)}${pad(row.measured, 30)}${pad(row.target, 34)}${met}`;
  return row.detail ? `${line}\n      ${row.detail}` : line;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width);
}
