// The server for P8, run in a child process (fork, with IPC) so that its work
// never competes with the 1,000 clients in the parent for the same event loop:
//   node --import tsx src/client/server.ts
// The full stack a browser talks to: Express + sessionMiddleware + tRPC over
// HTTP (/trpc) + attachWebSocket (tRPC over ws, session auth, session.events).
//
// "Restart" keeps the SessionManager (MemoryStore sessions and the per-session
// event buffers) in this process and restarts only the HTTP and WebSocket
// layer on the same port: sockets get 1001, the port is closed for
// `downtimeMs`, then a new HTTP server and WebSocket layer listen again. This
// is what a node restart looks like to clients when sessions live in a shared
// store (Redis) — without depending on a Redis server for the benchmark.
//
// IPC requests (answered with `{ id, ... }`):
//   { id, cmd: 'restart', downtimeMs }   → { stoppedAt, listeningAt } (epoch ms)
//   { id, cmd: 'publish', round, count } → { sessions, events } (events per session)
//   { id, cmd: 'stats' }                 → { sessions, sockets, upgrades: epoch ms[] since last restart }
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SessionManager } from '@morgan/session-server';
import { sessionMiddleware, trpcHandler } from '@morgan/session-server/express';
import { createSessionRouter } from '@morgan/session-server/trpc';
import { attachWebSocket, type WebSocketAttachment } from '@morgan/session-server/ws';
import express from 'express';

export interface ClientBenchRequest {
  id: number;
  cmd: 'restart' | 'publish' | 'stats';
  downtimeMs?: number;
  round?: number;
  count?: number;
}

// A thousand SDK clients from one address create their sessions at once: no per-address limit here.
const manager = new SessionManager({
  maxConcurrentRequests: 10_000,
  createRateLimit: false,
}).start();
const router = createSessionRouter();
const sessions = new Set<string>();
manager.on('created', ({ sessionId }) => sessions.add(sessionId));

let port = 0;
let server: Server | undefined;
let ws: WebSocketAttachment | undefined;
const sockets = new Set<Socket>();
let upgrades: number[] = [];
let seq = 0;

async function listen(): Promise<void> {
  const app = express();
  app.use(sessionMiddleware(manager));
  app.use('/trpc', trpcHandler(manager, router));
  const next = createServer(app);
  next.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  next.on('upgrade', () => upgrades.push(Date.now()));
  ws = attachWebSocket(next, { manager, router });
  next.listen(port, '127.0.0.1');
  await once(next, 'listening');
  port = (next.address() as AddressInfo).port;
  server = next;
}

async function stop(): Promise<void> {
  await ws?.close({ drainTimeoutMs: 1_000 });
  const current = server;
  server = undefined;
  if (current === undefined) return;
  const closed = new Promise<void>((resolve) => current.close(() => resolve()));
  current.closeAllConnections();
  for (const socket of sockets) socket.destroy();
  await closed;
}

process.on('message', async (request: ClientBenchRequest) => {
  const reply = (body: object) => process.send?.({ id: request.id, ...body });
  switch (request.cmd) {
    case 'restart': {
      upgrades = [];
      const stoppedAt = Date.now();
      await stop();
      await new Promise((resolve) => setTimeout(resolve, request.downtimeMs ?? 0));
      await listen();
      reply({ stoppedAt, listeningAt: Date.now() });
      return;
    }
    case 'publish': {
      const count = request.count ?? 1;
      const first = seq + 1;
      seq += count;
      const appends: Promise<unknown>[] = [];
      for (const sessionId of sessions) {
        for (let n = first; n <= seq; n += 1) {
          appends.push(
            manager.publish(sessionId, 'bench.tick', { round: request.round ?? 0, seq: n }),
          );
        }
      }
      await Promise.all(appends);
      reply({ sessions: sessions.size, events: count, firstSeq: first, lastSeq: seq });
      return;
    }
    case 'stats':
      reply({ sessions: sessions.size, sockets: ws?.connectionCount ?? 0, upgrades });
      return;
  }
});

process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
await listen();
process.send?.({ ready: port });
