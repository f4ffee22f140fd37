// The HTTP side of the fuzz tests: sends one request exactly as generated
// (node:http, a fresh connection each time) and judges the answer.
import { request } from 'node:http';
import { connect } from 'node:net';
import { KNOWN_CODES } from './fuzz-server.js';

/** One generated request. */
export interface HttpCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | undefined;
}

/** What came back. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The answer was an SSE stream (read up to its first event, then cut by us). */
  stream: boolean;
  /** No answer: the socket failed (`error`) or nothing came within the time limit. */
  failure?: string;
}

const TIMEOUT_MS = 5_000;

/**
 * Sends `c` on a fresh connection and collects the answer. An SSE stream is
 * read up to its first event; `whileStreaming` then runs before we hang up
 * (and its failure, if any, rejects).
 */
export function sendCase(
  port: number,
  c: HttpCase,
  whileStreaming?: () => Promise<void>,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (answer: HttpAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const none = (failure: string): HttpAnswer => ({
      status: 0,
      headers: {},
      body: '',
      stream: false,
      failure,
    });
    // Node's client sends a GET's body with no length at all; say it, so the body stays one.
    const headers =
      c.body === undefined ? c.headers : { ...c.headers, 'content-length': String(c.body.length) };
    const req = request(
      { host: '127.0.0.1', port, method: c.method, path: c.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        const stream = String(res.headers['content-type']).includes('text/event-stream');
        const answer = () => ({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          stream,
        });
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          // A stream that runs: one event is enough to judge it, then hang up.
          if (stream && !done && Buffer.concat(chunks).includes('\n\n')) {
            const result = answer();
            const hangUp = () => req.destroy();
            if (whileStreaming === undefined) {
              finish(result);
              hangUp();
              return;
            }
            done = true;
            clearTimeout(timer);
            whileStreaming().then(
              () => {
                hangUp();
                resolve(result);
              },
              (error: unknown) => {
                hangUp();
                reject(error);
              },
            );
          }
        });
        res.on('end', () => finish(answer()));
        res.on('error', () => finish(answer()));
        res.on('close', () => finish(answer()));
      },
    );
    const timer = setTimeout(() => {
      finish(none(`no answer within ${TIMEOUT_MS} ms`));
      req.destroy();
    }, TIMEOUT_MS);
    req.on('error', (error: NodeJS.ErrnoException) => finish(none(error.code ?? error.message)));
    req.end(c.body === undefined ? undefined : Buffer.from(c.body));
  });
}

/** Stable codes found in a parsed answer: Morgan's error bodies and tRPC's `data.errorCode`. */
function errorsIn(value: unknown, problems: string[]): number {
  if (Array.isArray(value)) {
    let found = 0;
    for (const item of value) found += errorsIn(item, problems);
    return found;
  }
  if (typeof value !== 'object' || value === null || !('error' in value)) return 0;
  const error = (value as { error: unknown }).error as Record<string, unknown> | null;
  const data = (error?.json ?? error) as { data?: { errorCode?: unknown } } | undefined;
  const code = typeof error?.code === 'string' ? error.code : data?.data?.errorCode;
  if (typeof code !== 'string' || !KNOWN_CODES.has(code)) {
    problems.push(`error without a known code: ${JSON.stringify(error).slice(0, 300)}`);
  }
  return 1;
}

/** `errorsIn` anywhere in a JSONL line, where tRPC nests results in chunk arrays. */
function errorsDeep(value: unknown, problems: string[], depth: number): number {
  if (depth > 12 || typeof value !== 'object' || value === null) return 0;
  if (!Array.isArray(value) && 'error' in value) return errorsIn(value, problems);
  let found = 0;
  for (const item of Object.values(value)) found += errorsDeep(item, problems, depth + 1);
  return found;
}

const STACK = /\n\s+at |"stack"|node:internal|\.ts:\d+:\d+|\.js:\d+:\d+/;

/**
 * What is wrong with an answer, if anything: every answer is JSON (a known
 * error code, or a success), never HTML or a stack trace, and no 5xx for
 * malformed input; `/metrics` may answer Prometheus text, HEAD and 204 have
 * no body, SSE streams carry JSON events.
 */
export function judge(c: HttpCase, answer: HttpAnswer): string[] {
  const problems: string[] = [];
  if (answer.failure !== undefined) return [`no answer: ${answer.failure}`];
  const { status, body } = answer;
  const type = String(answer.headers['content-type'] ?? '');
  if (status >= 500) problems.push(`status ${status} for malformed input`);
  if (status < 200 || (status >= 300 && status < 400)) problems.push(`unexpected status ${status}`);
  if (STACK.test(body)) problems.push('body carries a stack trace or source location');
  if (/<html|<!doctype|<pre>/i.test(body)) problems.push('HTML body');
  if (c.method === 'HEAD' || status === 204) {
    if (body !== '') problems.push(`body on ${c.method === 'HEAD' ? 'HEAD' : '204'}`);
    if (status >= 400 && !type.includes('application/json')) {
      problems.push(`error ${status} with content-type "${type}"`);
    }
    return problems;
  }
  if (answer.stream) {
    for (const line of body.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '') continue;
      try {
        errorsIn(JSON.parse(data), problems);
      } catch {
        problems.push(`SSE data is not JSON: ${data.slice(0, 200)}`);
      }
    }
    return problems;
  }
  const path = c.path.split('?')[0];
  if (path === '/metrics' && status === 200 && type.startsWith('text/plain')) return problems;
  if (!type.includes('application/json')) {
    problems.push(`content-type "${type}" (status ${status})`);
    return problems;
  }
  let errors = 0;
  try {
    errors = errorsIn(JSON.parse(body), problems);
  } catch {
    // tRPC's streaming batch (`trpc-accept: application/jsonl`): one JSON value a line.
    const lines = body.split('\n').filter((line) => line !== '');
    try {
      for (const line of lines) errors += errorsDeep(JSON.parse(line), problems, 0);
    } catch {
      problems.push(`body is not JSON: ${body.slice(0, 200)}`);
      return problems;
    }
  }
  if (status >= 400 && errors === 0) problems.push(`status ${status} without an error body`);
  return problems;
}

/** A short account of a case and its answer, for a failure message. */
export function describeCase(c: HttpCase, answer: HttpAnswer): string {
  const headers = Object.fromEntries(
    Object.entries(c.headers).map(([name, value]) => [name, clip(value, 120)]),
  );
  const body = c.body === undefined ? '(none)' : clip(Buffer.from(c.body).toString('utf8'), 300);
  return [
    `${c.method} ${clip(c.path, 300)}`,
    `headers ${JSON.stringify(headers)}`,
    `body (${c.body?.length ?? 0} bytes) ${body}`,
    `-> ${answer.failure ?? answer.status} ${JSON.stringify(answer.headers['content-type'] ?? '')} ${clip(answer.body, 400)}`,
  ].join('\n');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

/** What came back for raw bytes: the status (0 when none) and the whole answer as text. */
export interface RawAnswer {
  status: number;
  text: string;
}

/**
 * Writes `bytes` on a fresh TCP connection, half-closes it and collects
 * whatever the server answers until it closes (or `timeoutMs` passes).
 */
export function sendRaw(port: number, bytes: Uint8Array, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ status: status === undefined ? 0 : Number(status), text });
    };
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', finish);
    socket.on('connect', () => socket.end(Buffer.from(bytes)));
  });
}
