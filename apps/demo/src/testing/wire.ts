// Test helpers speaking the demo's wire protocols by hand: tRPC over HTTP
// (superjson inputs and outputs are `{ json }`) and tRPC over WebSocket.
import { WebSocket } from 'ws';

/** Longest wait for any answer: a request that hangs fails the test. */
const ANSWER_TIMEOUT_MS = 5_000;

/** What a tRPC HTTP call answered. */
export interface TrpcAnswer {
  status: number;
  retryAfter: string | null;
  /** `result.data.json` on success. */
  data?: unknown;
  /** `error.json.data.errorCode` on failure. */
  errorCode?: string;
}

/** Calls a procedure over HTTP the way tRPC's `httpLink` does (no batching). */
export async function trpcCall(
  baseUrl: string,
  path: string,
  options: { type: 'query' | 'mutation'; input?: unknown; sessionId?: string },
): Promise<TrpcAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.sessionId !== undefined) headers['x-session-id'] = options.sessionId;
  const query =
    options.type === 'query' && options.input !== undefined
      ? `?input=${encodeURIComponent(JSON.stringify({ json: options.input }))}`
      : '';
  const res = await fetch(`${baseUrl}/trpc/${path}${query}`, {
    method: options.type === 'query' ? 'GET' : 'POST',
    headers,
    ...(options.type === 'mutation' && { body: JSON.stringify({ json: options.input }) }),
    signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
  });
  const body = (await res.json()) as {
    result?: { data?: { json?: unknown } };
    error?: { json?: { data?: { errorCode?: string } } };
  };
  const answer: TrpcAnswer = { status: res.status, retryAfter: res.headers.get('retry-after') };
  if (body.result !== undefined) answer.data = body.result.data?.json;
  const errorCode = body.error?.json?.data?.errorCode;
  if (errorCode !== undefined) answer.errorCode = errorCode;
  return answer;
}

/** `POST /api/chat` with the session header; never waits longer than the answer timeout. */
export function chat(baseUrl: string, sessionId: string, message: string): Promise<Response> {
  return fetch(`${baseUrl}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-id': sessionId },
    body: JSON.stringify({ message }),
    signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
  });
}

/** GET with the answer timeout. */
export function get(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
}

interface WsMessage {
  id: number | null;
  result?: { type: string; data?: { json: unknown } };
  error?: unknown;
}

/** A raw tRPC WebSocket authenticated with `connectionParams`. */
export interface RawSocket {
  readonly socket: WebSocket;
  readonly messages: WsMessage[];
  /** Close code once closed. */
  closeCode(): number | undefined;
  /** Resolves with the close code. */
  closed(): Promise<number>;
  send(
    id: number,
    method: 'query' | 'mutation' | 'subscription',
    path: string,
    input?: unknown,
  ): void;
  close(): void;
}

/** Opens a socket on `wsUrl` and sends `{ sessionId }` as tRPC connection params. */
export async function openSocket(wsUrl: string, sessionId: string): Promise<RawSocket> {
  const socket = new WebSocket(`${wsUrl}?connectionParams=1`);
  const messages: WsMessage[] = [];
  let code: number | undefined;
  const closed = new Promise<number>((resolve) => {
    socket.on('close', (closeCode) => {
      code = closeCode;
      resolve(closeCode);
    });
  });
  socket.on('error', () => undefined);
  socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as WsMessage));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', () => reject(new Error(`socket to ${wsUrl} closed before opening`)));
  });
  socket.send(JSON.stringify({ method: 'connectionParams', data: { sessionId } }));
  return {
    socket,
    messages,
    closeCode: () => code,
    closed: () => closed,
    send(id, method, path, input) {
      socket.send(JSON.stringify({ id, method, params: { path, input: { json: input } } }));
    },
    close: () => socket.terminate(),
  };
}

/** Data of the subscription / call `id` received on a raw socket, in order. */
export function dataOf(raw: RawSocket, id: number): unknown[] {
  return raw.messages
    .filter((message) => message.id === id && message.result?.type === 'data')
    .map((message) => message.result?.data?.json);
}

/** Polls `check` every 25 ms until it holds, for at most `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
