// A whole Morgan node for P9 (soak) and P10 (abuse), run in a child process
// (fork, with IPC) so that the load generators never share its heap or event
// loop: node --expose-gc --import tsx src/node/server.ts '<NodeServerOptions json>'
//
// What an app mounts, with the library's default limits: hardenServer,
// health routes, sessionMiddleware, tRPC over HTTP at /trpc (Morgan's
// session router) and attachWebSocket on the same port. No `trust proxy`:
// req.ip is the socket's address. Each new session gets one event (as an
// app's welcome message would), so that `session.events` replays something.
//
// IPC requests (answered with `{ id, ... }`):
//   { id, cmd: 'session' }  creates a session for other clients, answers { sessionId }
//   { id, cmd: 'counts' }   answers NodeCounts, without collecting garbage
//   { id, cmd: 'measure' }  collects garbage, answers NodeCounts with memory
// As in production: tsx turns on source-map stack rewriting, which makes
// every `error.stack` (tRPC reads them for every refused call) several times
// dearer than under plain node.
process.setSourceMapsEnabled(false);

import { createServer } from 'node:http';
import { SessionManager, type SessionManagerOptions } from '@morgan/session-server';
import {
  errorHandler,
  hardenServer,
  healthRoutes,
  notFoundHandler,
  sessionMiddleware,
  trpcHandler,
} from '@morgan/session-server/express';
import { createSessionRouter } from '@morgan/session-server/trpc';
import { attachWebSocket } from '@morgan/session-server/ws';
import express from 'express';
import { collectGarbage } from '../gc.js';
import { listenAndReport } from '../ipc-ready.js';
import { COUNT_WITHOUT_LIMIT } from '../rate-limits.js';

/** What the scenario must set; everything else keeps the library's default. */
export interface NodeServerOptions {
  /** P9: one loopback address creates every session, so the per-address limit is off. */
  createRateLimit?: false;
}

/** What the node holds now, and (after `measure`) its memory after GC. */
export interface NodeCounts {
  sessions: number;
  activeRequests: number;
  inFlightRequests: number;
  streams: number;
  sockets: number;
  totalSessionsCreated: number;
  totalSessionsDeleted: number;
  totalRequestsShed: number;
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

export interface NodeServerRequest {
  id: number;
  cmd: 'session' | 'counts' | 'measure';
}

const options = JSON.parse(process.argv[2] ?? '{}') as NodeServerOptions;
const managerOptions: SessionManagerOptions = {
  requestRateLimit: COUNT_WITHOUT_LIMIT,
  ...(options.createRateLimit === false && { createRateLimit: false }),
};
const manager = new SessionManager(managerOptions).start();
const router = createSessionRouter();
manager.on('created', ({ sessionId }) => {
  void manager.publish(sessionId, 'welcome', { text: 'hello' }).catch(() => undefined);
});

const app = express();
app.disable('x-powered-by');
app.use(healthRoutes(manager));
app.use(sessionMiddleware(manager));
app.use('/trpc', trpcHandler(manager, router, { onInternalError: () => undefined }));
app.use(notFoundHandler());
app.use(errorHandler({ onInternalError: () => undefined }));
const server = hardenServer(createServer(app));
const ws = attachWebSocket(server, { manager, router });

async function counts(): Promise<NodeCounts> {
  const metrics = await manager.getMetrics();
  const usage = process.memoryUsage();
  return {
    sessions: metrics.activeSessions,
    activeRequests: metrics.activeRequests,
    inFlightRequests: metrics.inFlightRequests,
    streams: manager.streams.open,
    sockets: ws.connectionCount,
    totalSessionsCreated: metrics.totalSessionsCreated,
    totalSessionsDeleted: metrics.totalSessionsDeleted,
    totalRequestsShed: metrics.totalRequestsShed,
    heapUsed: usage.heapUsed,
    rss: usage.rss,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
  };
}

process.on('message', async (request: NodeServerRequest) => {
  const reply = (body: object) => process.send?.({ id: request.id, ...body });
  switch (request.cmd) {
    case 'session':
      reply({ sessionId: (await manager.createSession({ userId: 'others' })).sessionId });
      return;
    case 'counts':
      reply(await counts());
      return;
    case 'measure':
      await collectGarbage();
      reply(await counts());
      return;
  }
});

await listenAndReport(server);
