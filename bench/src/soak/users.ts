// P9's load generator, run in a child process of its own:
//   node --import tsx src/soak/users.ts '<SoakSpec json>'
// `users` closed-loop virtual users, each repeating a session's whole life
// until the time is up: create it (HTTP), use it over HTTP (a query, a
// heartbeat, a batch), open a WebSocket (connectionParams), subscribe to
// `session.events` and get the welcome event, call over the socket, then end
// it — every other cycle with `session.delete` over the socket (the server
// then closes it with 4404), otherwise by closing the socket and deleting
// over HTTP. Prints `RESULT <SoakResult json>`.
import { WebSocket } from 'ws';

import { emptySoakResult, type SoakSpec } from './result.js';

export type { SoakResult, SoakSpec } from './result.js';

const TIMEOUT_MS = 10_000;

const spec = JSON.parse(process.argv[2] ?? '{}') as SoakSpec;
const wsUrl = `${spec.url.replace('http', 'ws')}/trpc?connectionParams=1`;
const result = emptySoakResult();

class Failure extends Error {}

const count = (into: Record<string, number>, key: string) => {
  into[key] = (into[key] ?? 0) + 1;
};

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`timeout: ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One tRPC call over HTTP; resolves the JSON answer. */
async function http(
  method: 'GET' | 'POST',
  path: string,
  sessionId: string | undefined,
  body?: unknown,
): Promise<unknown> {
  result.httpRequests += 1;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (sessionId !== undefined) headers['x-session-id'] = sessionId;
  const res = await within(
    fetch(`${spec.url}/trpc/${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    path,
  );
  const text = await res.text();
  if (res.status !== 200) throw new Failure(`HTTP ${res.status} ${path}`);
  return JSON.parse(text) as unknown;
}

/** A socket that authenticated with connectionParams, with calls matched to answers by id. */
class Socket {
  readonly #ws: WebSocket;
  readonly #waiting = new Map<number, (message: Record<string, unknown>) => void>();
  readonly closed: Promise<number>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      this.#waiting.get(message.id as number)?.(message);
    });
    this.closed = new Promise((resolve) => {
      ws.once('close', (code) => {
        count(result.closeCodes, String(code));
        resolve(code);
      });
    });
  }

  static async open(sessionId: string): Promise<Socket> {
    result.wsSockets += 1;
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    const socket = new Socket(ws);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        void socket.closed.then((code) => reject(new Failure(`ws closed ${code} before open`)));
      }),
      'ws open',
    );
    ws.send(JSON.stringify({ method: 'connectionParams', data: { sessionId } }));
    return socket;
  }

  /** Resolves the first message for `id` that `accept` takes. */
  #next(id: number, accept: (message: Record<string, unknown>) => boolean, what: string) {
    return within(
      new Promise<Record<string, unknown>>((resolve, reject) => {
        this.#waiting.set(id, (message) => {
          if (message.error !== undefined) {
            this.#waiting.delete(id);
            reject(new Failure(`ws error ${what}`));
          } else if (accept(message)) {
            this.#waiting.delete(id);
            resolve(message);
          }
        });
        void this.closed.then((code) => reject(new Failure(`ws closed ${code} during ${what}`)));
      }),
      what,
    );
  }

  call(id: number, method: 'query' | 'mutation', path: string) {
    result.wsCalls += 1;
    const answer = this.#next(id, () => true, path);
    this.#ws.send(JSON.stringify({ id, method, params: { path, input: { json: null } } }));
    return answer;
  }

  /** Subscribes to `session.events` and waits for the first event (the welcome one). */
  subscribe(id: number) {
    result.wsCalls += 1;
    const first = this.#next(
      id,
      (message) => (message.result as { type?: string } | undefined)?.type === 'data',
      'session.events',
    );
    this.#ws.send(
      JSON.stringify({
        id,
        method: 'subscription',
        params: { path: 'session.events', input: { json: {} } },
      }),
    );
    return first;
  }

  close(): Promise<number> {
    this.#ws.close(1000);
    return within(this.closed, 'ws close');
  }

  terminate(): void {
    this.#ws.terminate();
  }
}

/** One whole session: created, used over HTTP and WebSocket, ended. */
async function cycle(user: number, n: number): Promise<void> {
  const created = (await http('POST', 'session.create', undefined, {
    json: { metadata: { user, cycle: n } },
  })) as { result: { data: { json: { sessionId: string } } } };
  const { sessionId } = created.result.data.json;
  result.sessionsCreated += 1;
  let socket: Socket | undefined;
  let ended = false;
  try {
    await http('GET', `session.get?input=${encodeURIComponent('{"json":null}')}`, sessionId);
    await http('POST', 'session.heartbeat', sessionId, { json: null });
    await http(
      'GET',
      `session.get,session.metrics?batch=1&input=${encodeURIComponent('{"0":{"json":null},"1":{"json":null}}')}`,
      sessionId,
    );
    socket = await Socket.open(sessionId);
    await socket.subscribe(1);
    await socket.call(2, 'query', 'session.get');
    await socket.call(3, 'mutation', 'session.heartbeat');
    if (n % 2 === 0) {
      // Ended over the socket: the server answers, then closes it with 4404.
      await socket.call(4, 'mutation', 'session.delete');
      ended = true;
      const code = await within(socket.closed, 'close after delete');
      if (code !== 4404) throw new Failure(`close ${code} after delete`);
    } else {
      await socket.close();
      await http('POST', 'session.delete', sessionId, { json: null });
      ended = true;
    }
    result.sessionsEnded += 1;
  } finally {
    if (!ended) {
      socket?.terminate();
      await http('POST', 'session.delete', sessionId, { json: null }).then(
        () => {
          result.sessionsEnded += 1;
        },
        () => undefined,
      );
    }
  }
}

async function user(index: number, deadline: number): Promise<void> {
  for (let n = 0; performance.now() < deadline; n += 1) {
    try {
      await cycle(index, n);
      result.cycles += 1;
    } catch (error) {
      count(result.errors, error instanceof Failure ? error.message : String(error));
    }
  }
}

const start = performance.now();
const deadline = start + spec.durationSeconds * 1000;
await Promise.all(Array.from({ length: spec.users }, (_, i) => user(i, deadline)));
result.elapsedSeconds = (performance.now() - start) / 1000;
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
