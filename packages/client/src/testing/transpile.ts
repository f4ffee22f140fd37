import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const srcDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One source file as the ESM JavaScript its build emits (types erased, imports kept as written). */
export function transpileSource(source: string, fileName: string): string {
  return ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
    fileName,
  }).outputText;
}

/**
 * Transpiles the client's sources (not tests or testing helpers) to plain
 * ESM JavaScript under `node_modules/.cache/<name>` of this package, so a
 * child `node` process can import the SDK (and resolve its dependencies)
 * without a build step. Returns the directory.
 */
export async function transpileClient(name: string): Promise<string> {
  const outDir = join(srcDir, '..', 'node_modules', '.cache', name);
  await mkdir(outDir, { recursive: true });
  // The sources and those of the subfolders other than `testing` (`shared/`).
  const folders = (await readdir(srcDir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && entry.name !== 'testing')
    .map((entry) => entry.name);
  const files = (
    await Promise.all(
      ['', ...folders].map(async (folder) =>
        (
          await readdir(join(srcDir, folder))
        )
          .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
          .map((file) => join(folder, file)),
      ),
    )
  ).flat();
  await Promise.all(folders.map((folder) => mkdir(join(outDir, folder), { recursive: true })));
  await Promise.all(
    files.map(async (file) => {
      const source = await readFile(join(srcDir, file), 'utf8');
      await writeFile(join(outDir, file.replace(/\.ts$/, '.js')), transpileSource(source, file));
    }),
  );
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}\n');
  return outDir;
}
