// P10's attacker, run in a child process of its own:
//   node --import tsx src/abuse/flood.ts '<FloodSpec json>'
// One client address (every socket bound to `localAddress`, another
// loopback address than the other clients') floods `session.create` as fast
// as the node answers: `connections` keep-alive connections in a closed
// loop, each request a batch of `batch` calls with `metadataBytes` of
// metadata each, as the attack in issue 13 did. Prints `RESULT <FloodResult json>`.
import { Agent, request } from 'node:http';

export interface FloodSpec {
  url: string;
  localAddress: string;
  connections: number;
  batch: number;
  metadataBytes: number;
  durationSeconds: number;
}

export interface FloodResult {
  requests: number;
  /** Answers per HTTP status. */
  statuses: Record<string, number>;
  /** Calls answered with a session. */
  sessionsCreated: number;
  /** Calls refused, per stable code. */
  refusals: Record<string, number>;
  socketErrors: number;
  elapsedSeconds: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as FloodSpec;
const { hostname, port } = new URL(spec.url);
const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
const path = `/trpc/${Array.from({ length: spec.batch }, () => 'session.create').join(',')}?batch=1`;
const metadata = { blob: 'x'.repeat(spec.metadataBytes) };
const body = Buffer.from(
  JSON.stringify(
    Object.fromEntries(Array.from({ length: spec.batch }, (_, i) => [i, { json: { metadata } }])),
  ),
);
const result: FloodResult = {
  requests: 0,
  statuses: {},
  sessionsCreated: 0,
  refusals: {},
  socketErrors: 0,
  elapsedSeconds: 0,
};

function once(): Promise<void> {
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        hostname,
        port,
        path,
        method: 'POST',
        localAddress: spec.localAddress,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          result.requests += 1;
          const status = String(res.statusCode);
          result.statuses[status] = (result.statuses[status] ?? 0) + 1;
          tally(Buffer.concat(chunks).toString());
          resolve();
        });
      },
    );
    req.on('error', () => {
      result.socketErrors += 1;
      resolve();
    });
    req.end(body);
  });
}

/** Counts sessions and refusals in a batch answer. */
function tally(text: string): void {
  let answers: unknown;
  try {
    answers = JSON.parse(text);
  } catch {
    return;
  }
  for (const answer of Array.isArray(answers) ? answers : [answers]) {
    const item = answer as {
      result?: unknown;
      error?: { json?: { data?: { errorCode?: string } } };
    };
    if (item.result !== undefined) result.sessionsCreated += 1;
    const code = item.error?.json?.data?.errorCode;
    if (code !== undefined) result.refusals[code] = (result.refusals[code] ?? 0) + 1;
  }
}

const start = performance.now();
const deadline = start + spec.durationSeconds * 1000;
await Promise.all(
  Array.from({ length: spec.connections }, async () => {
    while (performance.now() < deadline) await once();
  }),
);
result.elapsedSeconds = (performance.now() - start) / 1000;
agent.destroy();
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
