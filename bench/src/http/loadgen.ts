// A load generator child process: `node --import tsx src/http/loadgen.ts '<LoadSpec json>'`
// runs the spec and prints one line `RESULT <LoadSummary json>`.
import { type LoadSpec, runSpec } from './load.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const summary = await runSpec(spec);
process.stdout.write(`RESULT ${JSON.stringify(summary)}\n`);
process.exit(0);
