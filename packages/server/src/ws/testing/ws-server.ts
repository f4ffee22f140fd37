import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { SessionManager, type SessionManagerOptions } from '../../manager.js';
import { createSessionRouter, mergeRouters, router, sessionProcedure } from '../../trpc/index.js';
import {
  type AttachWebSocketOptions,
  attachWebSocket,
  type WebSocketAttachment,
} from '../index.js';

/** A latch a test opens to let the `test.slow` procedure answer. */
export class Latch {
  #open!: () => void;
  readonly opened = new Promise<void>((resolve) => {
    this.#open = resolve;
  });
  open(): void {
    this.#open();
  }
}

/** The router served in the tests: Morgan's plus two small procedures. */
export function testRouter(latches: Map<string, Latch>, started: (name: string) => void) {
  return mergeRouters(
    createSessionRouter(),
    router({
      test: router({
        echo: sessionProcedure.input(z.string()).mutation(({ input, ctx }) => ({
          input,
          sessionId: ctx.session.sessionId,
        })),
        slow: sessionProcedure.input(z.string()).mutation(async ({ input }) => {
          started(input);
          await latches.get(input)?.opened;
          return input;
        }),
        /** The app context's `tab` (from an app `createContext`) and the caller's session id. */
        context: sessionProcedure.mutation(({ ctx }) => ({
          tab: (ctx as { tab?: unknown }).tab ?? null,
          sessionId: ctx.session.sessionId,
        })),
        /** Yields the caller's session id, then waits until stopped (reported as `ticks-end:<id>`). */
        ticks: sessionProcedure.subscription(async function* ({ ctx, signal }) {
          const { sessionId } = ctx.session;
          try {
            yield sessionId;
            await new Promise((resolve) => signal?.addEventListener('abort', resolve));
          } finally {
            started(`ticks-end:${sessionId}`);
          }
        }),
      }),
    }),
  );
}

export type TestRouter = ReturnType<typeof testRouter>;

export interface WsTestServer extends AsyncDisposable {
  server: Server;
  manager: SessionManager;
  ws: WebSocketAttachment;
  /** `ws://127.0.0.1:<port>/trpc` */
  url: string;
  port: number;
  /** Latches for `test.slow` by input. */
  latches: Map<string, Latch>;
  /** Inputs of `test.slow` calls that started. */
  slowStarted: string[];
  close(): Promise<void>;
}

export interface WsTestServerOptions {
  manager?: SessionManagerOptions;
  ws?: Partial<Omit<AttachWebSocketOptions<TestRouter>, 'manager' | 'router'>>;
}

/**
 * A real HTTP server on 127.0.0.1, port 0, with the WebSocket layer attached,
 * disposed with `await using`.
 */
export async function startWsServer(options: WsTestServerOptions = {}): Promise<WsTestServer> {
  const manager = new SessionManager(options.manager).start();
  const server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
  });
  const latches = new Map<string, Latch>();
  const slowStarted: string[] = [];
  const appRouter = testRouter(latches, (name) => slowStarted.push(name));
  const ws = attachWebSocket(server, { manager, router: appRouter, ...options.ws });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const latch of latches.values()) latch.open();
      await stopServerStack({ ws, server, manager });
    })();
    return closing;
  };
  return {
    server,
    manager,
    ws,
    port,
    url: `ws://127.0.0.1:${port}/trpc`,
    latches,
    slowStarted,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Stops a test server's layers in order: sockets (1001), HTTP server, manager. */
export async function stopServerStack(stack: {
  ws: WebSocketAttachment;
  server: Server;
  manager: SessionManager;
}): Promise<void> {
  await stack.ws.close({ drainTimeoutMs: 1_000 });
  stack.server.closeAllConnections();
  await new Promise<void>((resolve) => stack.server.close(() => resolve()));
  await stack.manager.stop({ drainTimeoutMs: 1_000 });
}

/** How a socket closed, as the client saw it. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** Resolves when the socket closes. */
export function closed(socket: WebSocket): Promise<CloseInfo> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve({ code: 1006, reason: '' });
  return new Promise((resolve) => {
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

/** Opens a raw socket and waits for it to be open. */
export async function openSocket(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
): Promise<WebSocket> {
  const socket = new WebSocket(url, options);
  socket.on('error', () => {
    // Tests look at the close code.
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', (code) => reject(new Error(`closed with ${code} before open`)));
  });
  return socket;
}

/** A raw tRPC socket: connectionParams sent first, as tRPC's client does. */
export async function connect(
  url: string,
  sessionId: string,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
): Promise<WebSocket> {
  const socket = await openSocket(`${url}?connectionParams=1`, options);
  socket.send(JSON.stringify({ method: 'connectionParams', data: { sessionId } }));
  return socket;
}

/** Sends one tRPC call (no transformer-specific input) and resolves its answer. */
export function call(socket: WebSocket, id: number, method: string, path: string, json: unknown) {
  return new Promise<Record<string, unknown>>((resolve) => {
    const onMessage = (data: Buffer) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      if (message.id !== id) return;
      socket.off('message', onMessage);
      resolve(message);
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify({ id, method, params: { path, input: { json } } }));
  });
}

/**
 * Waits until `check()` holds, polling; fails after `timeoutMs`, which is
 * generous (what takes milliseconds must still pass on a machine ten times
 * slower) but below the test timeout, so the failure names the condition.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms: ${check}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
