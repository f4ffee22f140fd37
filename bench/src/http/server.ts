// A benchmark HTTP server, run in a child process so that the load generator
// (another child, see loadgen.ts) never shares its event loop:
//   node --import tsx src/http/server.ts <variant> [json options]
// Variants serve `GET /hello` (and `GET /work` for `overload`):
//   bare            plain Express
//   noop            Express + one middleware that only calls next() (the cost of any middleware)
//   morgan          Express + sessionMiddleware (MemoryStore); a session is created at start
//   express-session Express + express-session with its MemoryStore; `GET /login` sets the cookie,
//                   and every request changes one session field (so the session is saved)
//   overload        Express + sessionMiddleware with a small capacity; `GET /work` holds each
//                   request `workMs` (a timer, so the node is limited by slots, not CPU)
// Prints one line `READY {"port":…,"sessionId":…}` once listening; exits on SIGTERM.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionManager } from '@morgan/session-server';
import { sessionMiddleware } from '@morgan/session-server/express';
import express from 'express';
import session from 'express-session';
import { COUNT_WITHOUT_LIMIT } from '../rate-limits.js';

export type ServerVariant = 'bare' | 'noop' | 'morgan' | 'express-session' | 'overload';

export interface ServerVariantOptions {
  /** `overload`: requests in flight before 503. */
  maxConcurrentRequests?: number;
  /** `overload`: how long `GET /work` holds each request, in ms. */
  workMs?: number;
}

const variant = process.argv[2] as ServerVariant;
const options = JSON.parse(process.argv[3] ?? '{}') as ServerVariantOptions;

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
let sessionId: string | undefined;
let manager: SessionManager | undefined;

switch (variant) {
  case 'bare':
    break;
  case 'noop':
    app.use((_req, _res, next) => next());
    break;
  case 'morgan': {
    manager = new SessionManager({
      maxConcurrentRequests: 10_000,
      requestRateLimit: COUNT_WITHOUT_LIMIT,
    }).start();
    sessionId = (await manager.createSession({ userId: 'bench' })).sessionId;
    app.use(sessionMiddleware(manager));
    break;
  }
  case 'express-session': {
    app.use(
      session({
        secret: 'bench-secret',
        resave: false,
        saveUninitialized: false,
        store: new session.MemoryStore(),
      }),
    );
    app.get('/login', (req, res) => {
      (req.session as unknown as { userId: string }).userId = 'bench';
      res.send('ok');
    });
    // SPEC P2: the handler changes one session field per request, so
    // express-session writes the session back to its store every time.
    app.use((req, _res, next) => {
      const fields = req.session as unknown as { hits?: number };
      fields.hits = (fields.hits ?? 0) + 1;
      next();
    });
    break;
  }
  case 'overload': {
    manager = new SessionManager({
      maxConcurrentRequests: options.maxConcurrentRequests ?? 50,
      requestRateLimit: COUNT_WITHOUT_LIMIT,
    }).start();
    sessionId = (await manager.createSession({ userId: 'bench' })).sessionId;
    app.use(sessionMiddleware(manager));
    const workMs = options.workMs ?? 50;
    app.get('/work', (_req, res) => {
      setTimeout(() => res.send('done'), workMs);
    });
    break;
  }
  default:
    throw new Error(`unknown variant ${String(variant)}`);
}

app.get('/hello', (_req, res) => {
  res.send('hello');
});

const server = createServer(app);
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;
process.stdout.write(`READY ${JSON.stringify({ port, sessionId })}\n`);

process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void manager?.stop({ drainTimeoutMs: 0 });
  setTimeout(() => process.exit(0), 100).unref();
});
