// P6 helpers: a WebSocket server variant in a child process (with IPC for
// memory figures), and idle clients of each kind, created in this process.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io as socketIO } from 'socket.io-client';
import { WebSocket } from 'ws';
import { startIpcChild } from '../ipc-child.js';
import type { WsServerRequest, WsServerVariant } from './server.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Memory of the server process after garbage collection. */
export interface ServerMemory {
  heapUsed: number;
  rss: number;
  external: number;
  connections: number;
}

/** A P6 server variant running in a child process. */
export interface WsChild extends AsyncDisposable {
  readonly variant: WsServerVariant;
  readonly port: number;
  sessions(count: number): Promise<string[]>;
  connections(): Promise<number>;
  /** Channels of shared sockets (`?mux=1`), one per tab. */
  channels(): Promise<number>;
  measure(): Promise<ServerMemory>;
  stop(): Promise<void>;
}

export async function startWsChild(variant: WsServerVariant): Promise<WsChild> {
  const child = await startIpcChild<WsServerRequest['cmd']>({
    script: join(here, 'server.ts'),
    args: [variant],
    nodeFlags: ['--expose-gc'],
    name: variant,
  });
  const { port, request, stop } = child;
  return {
    variant,
    port,
    sessions: async (count) => (await request<{ ids: string[] }>('sessions', { count })).ids,
    connections: async () => (await request<{ connections: number }>('count')).connections,
    channels: async () => (await request<{ channels: number }>('count')).channels,
    measure: () => request<ServerMemory>('measure'),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** An idle client; `pings` counts the server heartbeats it answered. */
export interface IdleClient {
  readonly pings: () => number;
  close(): void;
}

/** A raw tRPC WebSocket client of Morgan: connectionParams, then optionally `session.events`. */
export async function morganClient(
  port: number,
  sessionId: string,
): Promise<IdleClient & { subscribe(): Promise<void> }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/trpc?connectionParams=1`);
  let pings = 0;
  socket.on('ping', () => {
    pings += 1;
  });
  socket.on('error', () => undefined);
  await opened(socket);
  socket.send(JSON.stringify({ method: 'connectionParams', data: { sessionId } }));
  return {
    pings: () => pings,
    close: () => socket.terminate(),
    subscribe: () =>
      new Promise<void>((resolve) => {
        const onMessage = (data: Buffer) => {
          const message = JSON.parse(data.toString()) as {
            id?: number;
            result?: { type?: string };
          };
          if (message.id !== 1 || message.result?.type !== 'started') return;
          socket.off('message', onMessage);
          resolve();
        };
        socket.on('message', onMessage);
        socket.send(
          JSON.stringify({
            id: 1,
            method: 'subscription',
            params: { path: 'session.events', input: {} },
          }),
        );
      }),
  };
}

/** A socket.io 4 client over WebSocket only (no long-polling phase). */
export async function socketIOClient(port: number): Promise<IdleClient> {
  const socket = socketIO(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  let pings = 0;
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  socket.io.engine.on('ping', () => {
    pings += 1;
  });
  return { pings: () => pings, close: () => socket.disconnect() };
}

/** A bare `ws` client. */
export async function wsClient(port: number): Promise<IdleClient> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  let pings = 0;
  socket.on('ping', () => {
    pings += 1;
  });
  socket.on('error', () => undefined);
  await opened(socket);
  return { pings: () => pings, close: () => socket.terminate() };
}

function opened(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', (code) => reject(new Error(`closed with ${code} before open`)));
  });
}

/** Runs `create` `count` times, `batch` at a time. */
export async function inBatches<T>(
  count: number,
  batch: number,
  create: (index: number) => Promise<T>,
): Promise<T[]> {
  const created: T[] = [];
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    created.push(...(await Promise.all(Array.from({ length: size }, (_, i) => create(start + i)))));
  }
  return created;
}
