// docs/existing-app.md shows this app's code: each ```ts block whose first
// line names a file of the example is a verbatim excerpt of that file, so the
// guide cannot drift from the code that the other tests run.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const exampleDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const guide = readFileSync(join(exampleDir, '..', '..', 'docs', 'existing-app.md'), 'utf8');
const excerpts = [
  ...guide.matchAll(/^```ts\n\/\/ examples\/existing-app\/(\S+)\n([\s\S]*?)^```$/gm),
];

test('the guide shows excerpts of the example app’s files', () => {
  expect(excerpts.length).toBeGreaterThanOrEqual(6);
});

test.each(excerpts.map(([, file = '', code = '']) => [file, code] as const))(
  'the excerpt of %s in docs/existing-app.md is in the file',
  (file, code) => {
    const text = readFileSync(join(exampleDir, file), 'utf8');
    expect(
      text.includes(code),
      `docs/existing-app.md shows code that ${file} does not have:\n${code}`,
    ).toBe(true);
  },
);
