// P5's closed-loop clients, in a child process of their own:
//   node --import tsx src/overload/clients.ts '<ClientsSpec json>'
// `connections` keep-alive connections, each with one request outstanding at
// a time: it sends the next as soon as the answer is in (closed loop), except
// after a 503 when it honours Retry-After. Two kinds of client:
//   honour  waits Retry-After plus the SDK's full jitter (250 ms, doubling per
//           503 in a row, up to 4 doublings), as @morgan/session-client does;
//   ignore  sends again at once (a naive client, or a retry storm).
// Raw sockets and a request written once as bytes, like autocannon, so that
// the clients cost far less CPU than the server and do not cap the storm.
// A connection the server closes (`Connection: close`) is opened again.
// Prints `RESULT <ClientsResult json>`.
import { connect, type Socket } from 'node:net';

export interface ClientsSpec {
  url: string;
  path: string;
  /** One per connection, in turn: each connection sends one session's X-Session-Id. */
  sessionIds: string[];
  connections: number;
  retry: 'honour' | 'ignore';
  durationSeconds: number;
  /** Run this long first, not measured. */
  warmupSeconds: number;
  /** No answer after this long counts as a timeout, in ms. @default 10_000 */
  timeoutMs?: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ClientsResult {
  elapsedSeconds: number;
  /** Answers per status code in the measured span. */
  statuses: Record<string, number>;
  /** Latency per status code, in ms, from the request's first byte written to its last byte read. */
  latency: Record<string, LatencySummary>;
  /** 200s per second, those answered within the measured span. */
  goodput: number;
  /** Connections that failed (reset, refused) and requests with no answer in time. */
  socketErrors: number;
  timeouts: number;
  /** Requests still unanswered when the run ended (waited for up to `timeoutMs`). */
  unanswered: number;
  /** Connections opened again after the server closed one. */
  reconnects: number;
  /** Retries made after a 503 (immediate ones included). */
  retries: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ClientsSpec;
const { hostname, port } = new URL(spec.url);
const timeoutMs = spec.timeoutMs ?? 10_000;
const JITTER_BASE_MS = 250;
const MAX_DOUBLINGS = 4;

/** Latencies per status, growing typed arrays (a storm records millions). */
class Recorder {
  readonly byStatus = new Map<number, { values: Float64Array; count: number }>();
  add(status: number, ms: number): void {
    let entry = this.byStatus.get(status);
    if (entry === undefined) {
      entry = { values: new Float64Array(4096), count: 0 };
      this.byStatus.set(status, entry);
    }
    if (entry.count === entry.values.length) {
      const grown = new Float64Array(entry.values.length * 2);
      grown.set(entry.values);
      entry.values = grown;
    }
    entry.values[entry.count] = ms;
    entry.count += 1;
  }
}

let recorder: Recorder | undefined;
let stopping = false;
let socketErrors = 0;
let timeouts = 0;
let reconnects = 0;
let retries = 0;
let outstanding = 0;
let onIdle: (() => void) | undefined;

const headerEnd = Buffer.from('\r\n\r\n');

class Connection {
  readonly #request: Buffer;
  #socket: Socket | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  #sentAt = 0;
  #inFlight = false;
  #shedInARow = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(sessionId: string) {
    this.#request = Buffer.from(
      `GET ${spec.path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-Session-Id: ${sessionId}\r\n\r\n`,
    );
  }

  start(): void {
    this.#open();
    this.#send();
  }

  #open(): void {
    const socket = connect({ host: hostname, port: Number(port), noDelay: true });
    this.#socket = socket;
    this.#buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('error', () => {
      if (this.#socket === socket && this.#inFlight) {
        socketErrors += 1;
        this.#settled();
      }
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (this.#inFlight) {
        socketErrors += 1;
        this.#settled();
      }
    });
  }

  #send(): void {
    if (stopping) return;
    if (this.#socket === undefined || this.#socket.destroyed) {
      reconnects += 1;
      this.#open();
    }
    this.#inFlight = true;
    outstanding += 1;
    this.#sentAt = performance.now();
    this.#timer = setTimeout(() => {
      timeouts += 1;
      this.#socket?.destroy();
      this.#socket = undefined;
      this.#settled();
    }, timeoutMs);
    this.#socket?.write(this.#request);
  }

  /** The request ended without an answer: count it out and go on. */
  #settled(): void {
    if (!this.#inFlight) return;
    this.#inFlight = false;
    clearTimeout(this.#timer);
    outstanding -= 1;
    if (outstanding === 0) onIdle?.();
    this.#send();
  }

  #onData(socket: Socket, chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const end = this.#buffer.indexOf(headerEnd);
    if (end === -1) return;
    const head = this.#buffer.toString('latin1', 0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 'NaN');
    if (!Number.isFinite(length)) throw new Error(`response without Content-Length: ${head}`);
    if (this.#buffer.length < end + 4 + length) return;
    const status = Number(head.slice(9, 12));
    this.#buffer = this.#buffer.subarray(end + 4 + length);
    this.#answered(status, head);
    if (/\r\nconnection: *close/i.test(head)) {
      this.#socket = undefined;
      socket.destroy();
    }
  }

  #answered(status: number, head: string): void {
    const ms = performance.now() - this.#sentAt;
    clearTimeout(this.#timer);
    this.#inFlight = false;
    outstanding -= 1;
    recorder?.add(status, ms);
    if (outstanding === 0 && stopping) onIdle?.();
    if (status !== 503) {
      this.#shedInARow = 0;
      this.#send();
      return;
    }
    retries += 1;
    this.#shedInARow += 1;
    if (spec.retry === 'ignore') {
      this.#send();
      return;
    }
    const retryAfterMs = Number(/\r\nretry-after: *(\d+)/i.exec(head)?.[1] ?? '0') * 1000;
    const doublings = Math.min(MAX_DOUBLINGS, this.#shedInARow - 1);
    const delay = retryAfterMs + Math.random() * JITTER_BASE_MS * 2 ** doublings;
    setTimeout(() => this.#send(), delay);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#socket?.destroy();
  }
}

function summary(values: Float64Array): LatencySummary {
  const sorted = values.sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ??
    Number.NaN;
  return { count: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? Number.NaN };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const connections = Array.from(
  { length: spec.connections },
  (_, i) => new Connection(spec.sessionIds[i % spec.sessionIds.length] as string),
);
for (const connection of connections) connection.start();
await sleep(spec.warmupSeconds * 1000);
const measured = new Recorder();
recorder = measured;
const errorsBefore = socketErrors;
const timeoutsBefore = timeouts;
const reconnectsBefore = reconnects;
const retriesBefore = retries;
const start = performance.now();
await sleep(spec.durationSeconds * 1000);
stopping = true;
const elapsedSeconds = (performance.now() - start) / 1000;
const okInSpan = measured.byStatus.get(200)?.count ?? 0;
// Answers to requests sent before the end still count: every request is answered or not.
const drained = new Promise<void>((resolve) => {
  onIdle = resolve;
  if (outstanding === 0) resolve();
});
await Promise.race([drained, sleep(timeoutMs + 1000)]);
const unanswered = outstanding;
for (const connection of connections) connection.close();

const statuses: Record<string, number> = {};
const latency: Record<string, LatencySummary> = {};
for (const [status, entry] of measured.byStatus) {
  statuses[status] = entry.count;
  latency[status] = summary(entry.values.subarray(0, entry.count));
}
const result: ClientsResult = {
  elapsedSeconds,
  statuses,
  latency,
  goodput: okInSpan / elapsedSeconds,
  socketErrors: socketErrors - errorsBefore,
  timeouts: timeouts - timeoutsBefore,
  unanswered,
  reconnects: reconnects - reconnectsBefore,
  retries: retries - retriesBefore,
};
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
