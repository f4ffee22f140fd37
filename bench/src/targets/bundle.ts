// P14: the browser bundle. `createSessionClient({ url })` bundled as an app
// bundles it (esbuild --bundle --minify --format=esm, gzip -9), minus the
// bundle of the tRPC client it wraps (httpBatchLink + wsLink + splitLink +
// superjson); socket.io-client's `io()` is reported beside, and each opt-in
// import (`/sse`, `/shared`, `/idempotency`) and `lazy` against the client.
// The figures come from the client's own size check
// (packages/client/scripts/bundle-size.mjs), which `npm test` runs with the
// same budgets, over the built `dist/`.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitCommit, writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';

const script = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'packages',
  'client',
  'scripts',
  'bundle-size.mjs',
);

interface Size {
  minified: number;
  gzip: number;
}

interface Cost {
  name: string;
  what: string;
  bytes: number;
  budget: number;
  within: boolean;
  /** Against SPEC P14 (the SDK's row only). */
  met?: boolean;
}

interface Report {
  sizes: Record<string, Size>;
  costs: Cost[];
  budgets: Record<string, number>;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;

const target: BenchTarget = {
  ids: ['P14'],
  async run(): Promise<BenchResult[]> {
    const out = spawnSync(process.execPath, [script, '--json'], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`bundle-size.mjs failed: ${out.stderr}`);
    const report = JSON.parse(out.stdout) as Report;
    const { sizes, costs } = report;
    const sdk = sizes.sdk as Size;
    const trpc = sizes.trpc as Size;
    const io = sizes['socket.io-client'];
    const [core, ...optIns] = costs as [Cost, ...Cost[]];
    writeResults('P14', {
      commit: gitCommit(),
      tool: 'esbuild --bundle --minify --format=esm; gzip -9',
      ...report,
    });
    const rows: BenchResult[] = [
      {
        id: 'P14',
        what: 'createSessionClient({ url }) minus the tRPC client it wraps, gzip',
        measured: `${kib(core.bytes)} (Morgan ${kib(sdk.gzip)} − tRPC ${kib(trpc.gzip)})`,
        target: '≤ 6 KiB',
        met: core.met === true,
        detail: `Morgan ${kib(sdk.gzip)} (${sdk.minified} B minified), the tRPC client ${kib(trpc.gzip)} (${trpc.minified} B minified); socket.io-client io() ${io === undefined ? 'not installed' : `${kib(io.gzip)} (${io.minified} B minified)`}`,
      },
    ];
    if (io !== undefined) {
      rows.push({
        id: 'P14-io',
        what: "socket.io-client's io(), gzip (beside)",
        measured: kib(io.gzip),
        target: '- (informational)',
      });
    }
    for (const cost of optIns) {
      rows.push({
        id: `P14-${cost.name}`,
        what: cost.what,
        measured: kib(cost.bytes),
        target: `≤ ${kib(cost.budget)} (budget)`,
        met: cost.within,
      });
    }
    return rows;
  },
};

export default target;
