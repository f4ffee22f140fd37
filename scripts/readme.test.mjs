// Harness tests of README.md: every TypeScript sample compiles against the
// packages' published types (their dist/*.d.ts, built before this runs), so the
// README names only what the packages export, with the options they take; and
// each options table lists exactly the fields of the options type it documents.
// A sample whose first line is a `// name.ts` comment is written under that
// name, so a later sample can import from it (the client imports the server's
// `AppRouter` type).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** The ```ts blocks of a Markdown text, in order. */
function typeScriptBlocks(markdown) {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

test('every TypeScript sample in README.md compiles against the packages it imports', () => {
  const blocks = typeScriptBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 3, `README.md has only ${blocks.length} TypeScript samples`);
  // Under the demo's node_modules (ignored by git), so that the samples resolve
  // the demo's dependencies: both Morgan packages, express, ws, zod, tRPC.
  const dir = join(root, 'apps', 'demo', 'node_modules', '.cache', `readme-samples-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    const files = blocks.map((code, i) => {
      const name = /^\/\/ ([\w.-]+\.ts)\n/.exec(code)?.[1] ?? `sample-${i + 1}.ts`;
      writeFileSync(join(dir, name), code);
      return name;
    });
    assert.equal(new Set(files).size, files.length, `two samples named alike: ${files}`);
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: relative(dir, join(root, 'tsconfig.base.json')),
        compilerOptions: { noEmit: true, types: ['node'] },
        files,
      }),
    );
    const result = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], {
      encoding: 'utf8',
    });
    const output = `${result.stdout}${result.stderr}`;
    assert.equal(result.status, 0, `README samples do not compile (files in ${dir}):\n${output}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Interfaces declared in the non-test sources of a package: name → { members, extends }. */
function interfacesOf(srcDir) {
  const found = new Map();
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'testing') visit(path);
        continue;
      }
      if (!entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
      const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022);
      for (const node of file.statements) {
        if (!ts.isInterfaceDeclaration(node)) continue;
        found.set(node.name.text, {
          members: node.members.flatMap((m) =>
            m.name && ts.isIdentifier(m.name) ? [m.name.text] : [],
          ),
          extends: (node.heritageClauses ?? []).flatMap((c) =>
            c.types.map((t) => t.expression.getText(file)),
          ),
        });
      }
    }
  };
  visit(srcDir);
  return found;
}

/** Every member of `name`, those of the interfaces it extends included. */
function membersOf(interfaces, name) {
  const declared = interfaces.get(name);
  assert.ok(declared, `interface ${name} not found`);
  return [...declared.members, ...declared.extends.flatMap((base) => membersOf(interfaces, base))];
}

/** First-column names of the README table whose header row starts with `| ${header} |`. */
function tableNames(markdown, header) {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`| ${header} |`));
  assert.notEqual(start, -1, `README.md has no table headed "${header}"`);
  const names = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const name = /^\| `([\w.]+)`/.exec(line)?.[1];
    assert.ok(name, `row without a \`name\` in the "${header}" table: ${line}`);
    names.push(name);
  }
  return names;
}

test('each options table in README.md lists every option of its type, and nothing else', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const server = interfacesOf(join(root, 'packages', 'server', 'src'));
  const client = interfacesOf(join(root, 'packages', 'client', 'src'));
  const tables = [
    { header: '`sessionMiddleware` option', of: server, type: 'SessionMiddlewareOptions' },
    { header: '`healthRoutes` option', of: server, type: 'HealthRoutesOptions' },
    { header: '`attachWebSocket` option', of: server, type: 'AttachWebSocketOptions' },
    {
      header: '`createSessionClient` option',
      of: client,
      type: 'SessionClientOptions',
      nested: {
        reconnect: 'ReconnectOptions',
        http: 'HttpRetryOptions',
        transportFallback: 'TransportFallbackOptions',
        lazy: 'LazyOptions',
      },
    },
    // The configuration table adds the demo's settings from loadConfig().
    {
      header: 'option',
      of: server,
      type: 'SessionManagerOptions',
      nested: { capacity: 'CapacityOptions' },
      extra: 'MorganConfig',
    },
  ];
  for (const { header, of, type, nested = {}, extra } of tables) {
    const expected = membersOf(of, type).flatMap((name) =>
      nested[name] ? membersOf(of, nested[name]).map((inner) => `${name}.${inner}`) : [name],
    );
    const listed = tableNames(readme, header);
    const allowed = new Set([...expected, ...(extra ? membersOf(of, extra) : [])]);
    const missing = expected.filter((name) => !listed.includes(name));
    const unknown = listed.filter((name) => !allowed.has(name));
    assert.deepEqual(
      { missing, unknown },
      { missing: [], unknown: [] },
      `README.md table "${header}" vs ${type}: add a row per missing option, drop unknown ones`,
    );
  }
});
