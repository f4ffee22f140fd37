// Morgan's tRPC handler on a socket-like object that is not a `ws` socket,
// beside tRPC's own ws adapter on an EventEmitter: the same messages go to
// both, what each sends is recorded.
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AnyTRPCRouter } from '@trpc/server';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import type { SessionManager } from '../../manager.js';
import { CallRunner, type CallRunnerOptions } from '../calls.js';
import { Connection } from '../connection.js';
import { attachWebSocketDefaults } from '../options.js';
import { PendingWork } from '../pending-work.js';
import type { WireSocket } from '../socket.js';
import { TrpcHandler } from '../trpc-handler.js';

/** A socket-like object (what a channel of a shared socket also is) that records what it is sent. */
export class PlainSocket implements WireSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  send(text: string): void {
    this.sent.push(text);
  }
  ping(): void {}
  close(): void {
    this.readyState = 3;
  }
  terminate(): void {
    this.close();
  }
}

/** What tRPC's own ws adapter is given here: an EventEmitter with send and readyState. */
export class EmitterSocket extends EventEmitter {
  readyState = 1;
  readonly sent: string[] = [];
  send(text: string): void {
    this.sent.push(text);
  }
  close(): void {
    this.readyState = 3;
    this.emit('close');
  }
}

const req = { url: '/trpc', headers: { host: 'localhost' } } as IncomingMessage;

/**
 * A `Connection` of `sessionId` on a {@link PlainSocket}, authenticated and
 * served by Morgan's tRPC handler (the registry and its indexes left out).
 */
export function servedPlainSocket(
  manager: SessionManager,
  router: AnyTRPCRouter,
  sessionId: string,
  onError?: CallRunnerOptions['onError'],
): { socket: PlainSocket; connection: Connection } {
  const runner = new CallRunner({
    manager,
    router,
    maxBatchSize: 100,
    createContext: undefined,
    onError,
    clientAddress: () => undefined,
    work: new PendingWork(),
  });
  const host = {
    manager,
    register() {},
    unregister() {},
    activity() {},
    release() {},
    serve: (connection: Connection) => new TrpcHandler(connection, runner),
  };
  const socket = new PlainSocket();
  const connection = new Connection(socket, req, host, attachWebSocketDefaults);
  connection.received(JSON.stringify({ method: 'connectionParams', data: { sessionId } }));
  return { socket, connection };
}

/** tRPC's own ws adapter serving `router` on an {@link EmitterSocket}, with `createContext`'s context. */
export function trpcAdapterSocket(
  router: AnyTRPCRouter,
  createContext: () => object,
  onError?: Parameters<typeof getWSConnectionHandler>[0]['onError'],
): EmitterSocket {
  const handler = getWSConnectionHandler({
    wss: new WebSocketServer({ noServer: true }),
    router,
    createContext,
    ...(onError === undefined ? {} : { onError }),
  });
  const socket = new EmitterSocket();
  handler(socket as unknown as Parameters<typeof handler>[0], req);
  return socket;
}
