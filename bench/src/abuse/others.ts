// P10's well-behaved clients, run in a child process of their own:
//   node --import tsx src/abuse/others.ts '<OthersSpec json>'
// `connections` keep-alive connections from 127.0.0.1, each a steady closed
// loop of one tRPC call on an existing session (its X-Session-Id) and a
// pause of `thinkMs` (users, not a load test: the node is not saturated by
// them), for `warmupSeconds` (not measured) then `durationSeconds`. node:http's agent,
// like a browser, honours `Connection: close` (hardenServer ends a socket's
// keep-alive after 1,000 requests), which autocannon does not.
// Prints `RESULT <OthersResult json>`.
import { Agent, request } from 'node:http';

export interface OthersSpec {
  url: string;
  path: string;
  sessionId: string;
  connections: number;
  /** Pause after each answer, in ms. */
  thinkMs: number;
  durationSeconds: number;
  warmupSeconds: number;
}

export interface OthersResult {
  total: number;
  statuses: Record<string, number>;
  socketErrors: number;
  requestsPerSecond: number;
  /** Latency of the 200s, in ms. */
  latency: { p50: number; p99: number; p999: number; max: number };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as OthersSpec;
const { hostname, port } = new URL(spec.url);
const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
const headers = { 'x-session-id': spec.sessionId };

function once(): Promise<{ status: number; ms: number } | undefined> {
  const begin = performance.now();
  return new Promise((resolve) => {
    const req = request({ agent, hostname, port, path: spec.path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - begin }));
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function loop(seconds: number, record: boolean) {
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let socketErrors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: spec.connections }, async () => {
      while (performance.now() < deadline) {
        const answer = await once();
        await new Promise((resolve) => setTimeout(resolve, spec.thinkMs));
        if (!record) continue;
        if (answer === undefined) {
          socketErrors += 1;
          continue;
        }
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        if (answer.status === 200) latencies.push(answer.ms);
      }
    }),
  );
  return { statuses, latencies, socketErrors, elapsed: (performance.now() - start) / 1000 };
}

const at = (sorted: readonly number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[
        Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
      ] as number);

if (spec.warmupSeconds > 0) await loop(spec.warmupSeconds, false);
const { statuses, latencies, socketErrors, elapsed } = await loop(spec.durationSeconds, true);
latencies.sort((a, b) => a - b);
const total = Object.values(statuses).reduce((sum, n) => sum + n, 0);
const result: OthersResult = {
  total,
  statuses,
  socketErrors,
  requestsPerSecond: total / elapsed,
  latency: {
    p50: at(latencies, 50),
    p99: at(latencies, 99),
    p999: at(latencies, 99.9),
    max: latencies.at(-1) ?? Number.NaN,
  },
};
agent.destroy();
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
