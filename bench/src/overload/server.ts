// P5's server under test, in a child process of its own (fork, IPC):
//   node --import tsx src/overload/server.ts '<OverloadServerSpec json>'
// `GET /work` waits `waitMs` (a timer: an upstream call) and then spends
// `cpuMs` of CPU (rendering the answer), as SPEC's P5 handler does. Variants:
//   bare      plain Express, nothing in front of the handler
//   static    Express + sessionMiddleware, maxConcurrentRequests = staticLimit
//   adaptive  Express + sessionMiddleware, capacity: { mode: 'adaptive', ... }
//             (optionally with slowEarlyRetries)
// Morgan's variants track every request on a session (MemoryStore, a
// session per client connection, the request rate limit counting but out of
// reach) as a real request is.
//
// IPC requests (answered with `{ id, ... }`):
//   { id, cmd: 'sessions' }  answers { sessionIds }
//   { id, cmd: 'stats' }     answers OverloadStats and starts a new trace
process.setSourceMapsEnabled(false);

import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type CapacityOptions, SessionManager } from '@morgan/session-server';
import { sessionMiddleware } from '@morgan/session-server/express';
import express from 'express';
import { listenAndReport } from '../ipc-ready.js';
import { COUNT_WITHOUT_LIMIT } from '../rate-limits.js';

export interface OverloadServerSpec {
  variant: 'bare' | 'static' | 'adaptive';
  /** `static`: requests in flight before 503. */
  staticLimit: number;
  /** `adaptive`: the capacity options besides `mode`. */
  capacity?: Omit<CapacityOptions, 'mode'>;
  /** sessionMiddleware's `slowEarlyRetries`: 503s of clients that ignore Retry-After wait it out. */
  slowEarlyRetries?: boolean;
  /** Sessions to create (one per client connection). */
  sessions: number;
  waitMs: number;
  cpuMs: number;
}

/** The capacity limit over time and what was shed, since the previous `stats`. */
export interface OverloadStats {
  mode: string;
  limit: number;
  /** [ms since the trace started, limit], every 100 ms. */
  trace: [number, number][];
  shed: number;
  inFlight: number;
  /** CPU time the server used (user + system), in ms. */
  cpuMs: number;
  /** Share of the time the event loop was busy (0–1). */
  eventLoopUtilization: number;
  /** Wall time of the span, in ms. */
  spanMs: number;
}

export interface OverloadServerRequest {
  id: number;
  cmd: 'sessions' | 'stats';
}

const spec = JSON.parse(process.argv[2] ?? '{}') as OverloadServerSpec;
const app = express();
app.disable('x-powered-by');
app.set('etag', false);

let manager: SessionManager | undefined;
if (spec.variant !== 'bare') {
  manager = new SessionManager({
    requestRateLimit: COUNT_WITHOUT_LIMIT,
    maxConcurrentRequests: spec.staticLimit,
    ...(spec.variant === 'adaptive' && { capacity: { ...spec.capacity, mode: 'adaptive' } }),
  }).start();
  app.use(sessionMiddleware(manager, { slowEarlyRetries: spec.slowEarlyRetries ?? false }));
}
const sessionIds: string[] = [];
for (let i = 0; i < spec.sessions && manager !== undefined; i += 1) {
  sessionIds.push((await manager.createSession({ userId: `client-${i}` })).sessionId);
}

const BODY = 'done';
app.get('/work', (_req, res) => {
  setTimeout(() => {
    const until = performance.now() + spec.cpuMs;
    while (performance.now() < until) {
      // the CPU part of the handler
    }
    res.send(BODY);
  }, spec.waitMs);
});

let traceStart = performance.now();
let trace: [number, number][] = [];
let shedBefore = 0;
let cpuBefore = process.cpuUsage();
let eluBefore = performance.eventLoopUtilization();
const sampler = setInterval(() => {
  if (manager !== undefined) {
    trace.push([Math.round(performance.now() - traceStart), manager.capacity.limit]);
  }
}, 100);
sampler.unref();

process.on('message', (request: OverloadServerRequest) => {
  const reply = (body: object) => process.send?.({ id: request.id, ...body });
  if (request.cmd === 'sessions') {
    reply({ sessionIds });
    return;
  }
  const capacity = manager?.capacity;
  const stats: OverloadStats = {
    mode: capacity?.mode ?? 'none',
    limit: capacity?.limit ?? Number.NaN,
    trace,
    shed: (capacity?.shedCount ?? 0) - shedBefore,
    inFlight: capacity?.inFlight ?? 0,
    cpuMs: (() => {
      const { user, system } = process.cpuUsage(cpuBefore);
      return (user + system) / 1000;
    })(),
    eventLoopUtilization: performance.eventLoopUtilization(eluBefore).utilization,
    spanMs: performance.now() - traceStart,
  };
  cpuBefore = process.cpuUsage();
  eluBefore = performance.eventLoopUtilization();
  shedBefore = capacity?.shedCount ?? 0;
  trace = [];
  traceStart = performance.now();
  reply(stats);
});

const server = createServer(app);
server.keepAliveTimeout = 30_000;
await listenAndReport(server);
