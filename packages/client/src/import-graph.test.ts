import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const srcDir = dirname(fileURLToPath(import.meta.url));

/** Module → the modules it imports or re-exports from, by path relative to `src`. */
type ImportGraph = Map<string, string[]>;

/** Every `.ts` file under `dir` but tests, as paths relative to `src` with `/`. */
async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .filter((entry) => !entry.name.endsWith('.test.ts'))
    .map((entry) => relative(srcDir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/**
 * The relative modules a file names in `import … from`, `import type … from`,
 * `export … from`, `import('…')` and `import('…').Type`: types count, since a
 * circle of types is still a circle for whoever reads the code.
 */
function relativeImports(fileName: string, text: string): string[] {
  const found: string[] = [];
  const add = (node: ts.Node | undefined): void => {
    if (node !== undefined && ts.isStringLiteral(node) && node.text.startsWith('.')) {
      found.push(node.text);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true));
  return found;
}

/** The import graph of `files` (relative to `src`), each import resolved to the `.ts` it names. */
async function importGraph(files: string[]): Promise<ImportGraph> {
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const text = await readFile(join(srcDir, file), 'utf8');
    const targets = relativeImports(file, text).map((specifier) =>
      posix.join(posix.dirname(file), specifier).replace(/\.js$/, '.ts'),
    );
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * The circles of the graph, each as the path that closes it
 * (`a.ts → b.ts → a.ts`, from its first module by name), found by a
 * depth-first walk: an edge back to a module still on the walk's path
 * closes one. A graph with any circle names at least one.
 */
function findCycles(graph: ImportGraph): string[] {
  const cycles = new Set<string>();
  const done = new Set<string>();
  const path: string[] = [];
  const walk = (module: string): void => {
    path.push(module);
    for (const next of graph.get(module) ?? []) {
      const at = path.indexOf(next);
      if (at !== -1) cycles.add(nameCycle(path.slice(at)));
      else if (!done.has(next) && graph.has(next)) walk(next);
    }
    path.pop();
    done.add(module);
  };
  for (const module of [...graph.keys()].sort()) if (!done.has(module)) walk(module);
  return [...cycles].sort();
}

function nameCycle(members: string[]): string {
  const start = members.indexOf([...members].sort()[0] as string);
  const ordered = [...members.slice(start), ...members.slice(0, start)];
  return [...ordered, ordered[0]].join(' → ');
}

describe('import graph of the client’s sources', () => {
  it('finds a circle, and names it', () => {
    const graph: ImportGraph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts', 'd.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['d.ts']],
      ['e.ts', ['a.ts']],
    ]);
    expect(findCycles(graph)).toEqual(['a.ts → b.ts → c.ts → a.ts', 'd.ts → d.ts']);
  });

  it('reads imports, type imports, re-exports and import types; not packages', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "export { c } from '../c.js';",
      "export type { D } from './shared/d.js';",
      "import { observable } from '@trpc/server/observable';",
      "type E = import('./e.js').E;",
      "const f = () => import('./f.js');",
    ].join('\n');
    expect(relativeImports('x.ts', text)).toEqual([
      './a.js',
      './b.js',
      '../c.js',
      './shared/d.js',
      './e.js',
      './f.js',
    ]);
  });

  it('has no circle: every module imports downward only', async () => {
    const files = await sourceFiles(srcDir);
    const graph = await importGraph(files);
    // The walk sees the real graph: the facade imports its parts.
    expect(graph.get('client.ts')?.length ?? 0).toBeGreaterThan(3);
    expect(findCycles(graph)).toEqual([]);
  });
});
