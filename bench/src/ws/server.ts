// A WebSocket server for P6, run in a child process (fork, with IPC) so that
// the clients in the parent never count towards its memory:
//   node --expose-gc --import tsx src/ws/server.ts <variant>
// Variants, each on a plain node:http server on 127.0.0.1 and default heartbeats:
//   morgan     attachWebSocket (tRPC over ws, session auth) with Morgan's session router;
//              server pings every 25 s, 10 s pong timeout
//   socket.io  socket.io 4 Server, default pingInterval 25 s / pingTimeout 20 s
//   ws         bare `ws` server with one 25 s ping interval (what the transport alone costs)
// IPC requests (answered with `{ id, ... }`):
//   { id, cmd: 'sessions', count }  creates sessions (morgan), answers { ids }
//   { id, cmd: 'count' }            answers { connections, channels } (channels: of shared sockets, P11)
//   { id, cmd: 'measure' }          collects garbage, answers { heapUsed, rss, external, connections }
import { createServer } from 'node:http';
import { SessionManager } from '@morgan/session-server';
import { createSessionRouter } from '@morgan/session-server/trpc';
import { attachWebSocket } from '@morgan/session-server/ws';
import { Server as SocketIOServer } from 'socket.io';
import { WebSocketServer } from 'ws';
import { collectGarbage } from '../gc.js';
import { listenAndReport } from '../ipc-ready.js';
import { COUNT_WITHOUT_LIMIT } from '../rate-limits.js';

export type WsServerVariant = 'morgan' | 'socket.io' | 'ws';

export interface WsServerRequest {
  id: number;
  cmd: 'sessions' | 'count' | 'measure';
  count?: number;
}

const variant = process.argv[2] as WsServerVariant;
const server = createServer((_req, res) => {
  res.writeHead(404).end();
});
let connections: () => number;
let channels: () => number = () => 0;
let manager: SessionManager | undefined;

switch (variant) {
  case 'morgan': {
    manager = new SessionManager({
      maxConcurrentRequests: 10_000,
      requestRateLimit: COUNT_WITHOUT_LIMIT,
    }).start();
    // Every bench client connects from 127.0.0.1, BATCH (100) at a time: the
    // per-address limit of sockets not yet authenticated (32) would refuse them.
    const ws = attachWebSocket(server, {
      manager,
      router: createSessionRouter(),
      maxPendingSocketsPerAddress: 10_000,
    });
    connections = () => ws.connectionCount;
    channels = () => ws.channelCount;
    break;
  }
  case 'socket.io': {
    const io = new SocketIOServer(server, { serveClient: false });
    // One room per client, as an app that sends each client its own events does.
    io.on('connection', (socket) => {
      void socket.join(`client:${socket.id}`);
    });
    connections = () => io.engine.clientsCount;
    break;
  }
  case 'ws': {
    const wss = new WebSocketServer({ server, perMessageDeflate: false });
    wss.on('connection', (socket) => {
      socket.on('error', () => undefined);
    });
    setInterval(() => {
      for (const socket of wss.clients) socket.ping();
    }, 25_000).unref();
    connections = () => wss.clients.size;
    break;
  }
  default:
    throw new Error(`unknown variant ${String(variant)}`);
}

process.on('message', async (request: WsServerRequest) => {
  const reply = (body: object) => process.send?.({ id: request.id, ...body });
  switch (request.cmd) {
    case 'sessions': {
      if (manager === undefined) throw new Error('sessions need the morgan variant');
      const ids: string[] = [];
      for (let i = 0; i < (request.count ?? 0); i += 1) {
        ids.push((await manager.createSession({ userId: `bench-${i}` })).sessionId);
      }
      reply({ ids });
      return;
    }
    case 'count':
      reply({ connections: connections(), channels: channels() });
      return;
    case 'measure': {
      await collectGarbage();
      const usage = process.memoryUsage();
      reply({
        heapUsed: usage.heapUsed,
        rss: usage.rss,
        external: usage.external,
        connections: connections(),
      });
      return;
    }
  }
});

await listenAndReport(server);
