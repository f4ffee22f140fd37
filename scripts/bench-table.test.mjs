// The README's Performance table is what scripts/bench-table.mjs writes from the
// committed results in bench/results/, so every figure it quotes traces to a run.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { END, renderTable, START, TARGETS, withTable } from './bench-table.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

test('the README Performance table is the one bench/results gives (npm run bench:table)', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(readme.includes(START) && readme.includes(END), 'README.md lacks the table markers');
  assert.equal(readme, withTable(readme, renderTable()), 'run npm run bench:table');
});

test('a target without a results file says so instead of a figure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-table-'));
  try {
    writeFileSync(
      join(dir, 'P4.json'),
      JSON.stringify({
        id: 'P4',
        date: '2026-01-02T00:00:00.000Z',
        commit: 'abcdef0123',
        printed: [{ id: 'P4', what: 'sweep', measured: '0.5 ms', target: '< 1 ms', met: true }],
      }),
    );
    const rows = renderTable(dir).trim().split('\n').slice(2);
    assert.equal(rows.length, TARGETS.length);
    const p4 = rows.find((row) => row.startsWith('| P4 |'));
    assert.match(
      p4,
      /\| 0\.5 ms \|.*\| yes \| `bench\/results\/P4\.json` \(2026-01-02, abcdef0\) \|$/,
    );
    const p3 = rows.find((row) => row.startsWith('| P3 |'));
    assert.match(p3, /no results yet/);
    assert.match(p3, /\| - \| no `bench\/results\/P3\.json` \|$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
