// The server the fuzz tests attack: a real node as an app mounts Morgan
// (health routes, sessionMiddleware, tRPC over HTTP at /trpc, a plain route
// with a JSON body, JSON 404 and error handler, hardenServer, tRPC over
// WebSocket on the same port), with the library's default limits. It
// records internal errors and can tell whether any session, request, stream
// or socket was left behind after a case.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { errorHandler, notFoundHandler } from '../express/error-handler.js';
import { hardenServer } from '../express/harden.js';
import { healthRoutes } from '../express/health.js';
import { sendJson } from '../express/respond.js';
import { requireSession, sessionMiddleware } from '../express/session-middleware.js';
import { trpcHandler } from '../express/trpc.js';
import { SessionManager } from '../manager.js';
import { CloseCode, ErrorCode } from '../protocol.js';
import { isSessionId } from '../session.js';
import { createSessionRouter } from '../trpc/session-router.js';
import { attachWebSocket, type WebSocketAttachment } from '../ws/attach.js';
import { stopServerStack } from '../ws/testing/ws-server.js';

/** Error codes an answer may carry. */
export const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Close codes a client may see: the documented ones, and those of a client-side or abnormal end. */
export const KNOWN_CLOSE_CODES: ReadonlySet<number> = new Set([
  ...Object.values(CloseCode),
  1000,
  1005,
  1006,
]);

/** What the node holds; a case must leave it as it found it. */
export interface NodeCounts {
  sessions: number;
  activeRequests: number;
  inFlight: number;
  streams: number;
  sockets: number;
  /** The victim session's requests and connections, as stored. */
  victimRequests: number;
  victimConnections: number;
}

/** A running fuzz target, closed with `await using`. */
export interface FuzzServer extends AsyncDisposable {
  readonly server: Server;
  readonly manager: SessionManager;
  readonly ws: WebSocketAttachment;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** A session that exists for the whole run; cases may use it but never end it. */
  readonly victimId: string;
  /** Errors the node reported as internal (500); a fuzz case must cause none. */
  readonly internalErrors: unknown[];
  counts(): Promise<NodeCounts>;
  /**
   * Waits (up to `timeoutMs`) until the counts equal `expected`, which a
   * request's `close` or a socket's release may reach a moment after the
   * client saw its answer; resolves the last counts read.
   */
  settle(expected: NodeCounts, timeoutMs?: number): Promise<NodeCounts>;
  /** Ends sessions a case created (legitimate `session.create` calls), keeping the victim. */
  endSessions(ids: Iterable<string>): Promise<void>;
  /** Ids of the sessions created from now on, until `stop()`. */
  recordCreated(): { ids: Set<string>; stop(): void };
  /** Waits (up to `timeoutMs`) until no request, stream or socket is open on the node. */
  quiesce(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the fuzz target on 127.0.0.1, port 0. */
export async function startFuzzServer(): Promise<FuzzServer> {
  const manager = new SessionManager().start();
  const internalErrors: unknown[] = [];
  const router = createSessionRouter();
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(manager));
  app.use(sessionMiddleware(manager));
  app.use(
    '/trpc',
    trpcHandler(manager, router, { onInternalError: (error) => internalErrors.push(error) }),
  );
  app.post('/api/echo', requireSession(), express.json({ limit: '16kb' }), (req, res) => {
    sendJson(res, 200, { body: req.body as unknown });
  });
  app.use(notFoundHandler());
  app.use(errorHandler({ onInternalError: (error) => internalErrors.push(error) }));
  const server = hardenServer(createServer(app));
  const ws = attachWebSocket(server, {
    manager,
    router,
    onError: ({ error }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') internalErrors.push(error);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const victimId = (await manager.createSession({ metadata: { role: 'victim' } })).sessionId;

  const counts = async (): Promise<NodeCounts> => {
    const victim = await manager.getSession(victimId);
    return {
      sessions: await manager.getActiveSessionCount(),
      activeRequests: manager.activeRequestCount,
      inFlight: manager.capacity.inFlight,
      streams: manager.streams.open,
      sockets: ws.connectionCount,
      victimRequests: victim?.activeRequests.length ?? -1,
      victimConnections: victim?.connectionCount ?? -1,
    };
  };
  const same = (a: NodeCounts, b: NodeCounts) =>
    (Object.keys(a) as (keyof NodeCounts)[]).every((key) => a[key] === b[key]);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= stopServerStack({ ws, server, manager });
    return closing;
  };
  return {
    server,
    manager,
    ws,
    port,
    url: `http://127.0.0.1:${port}`,
    victimId,
    internalErrors,
    counts,
    async settle(expected, timeoutMs = 3_000) {
      const deadline = Date.now() + timeoutMs;
      let now = await counts();
      while (!same(now, expected) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        now = await counts();
      }
      return now;
    },
    async endSessions(ids) {
      for (const id of ids) {
        if (id !== victimId && isSessionId(id)) await manager.deleteSession(id);
      }
    },
    recordCreated() {
      const ids = new Set<string>();
      const onCreated = ({ sessionId }: { sessionId: string }) => ids.add(sessionId);
      manager.on('created', onCreated);
      return { ids, stop: () => manager.off('created', onCreated) };
    },
    async quiesce(timeoutMs = 3_000) {
      const deadline = Date.now() + timeoutMs;
      const busy = () =>
        manager.activeRequestCount > 0 ||
        manager.capacity.inFlight > 0 ||
        manager.streams.open > 0 ||
        ws.connectionCount > 0;
      while (busy() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Session ids of sessions a tRPC answer reports (results whose data is a
 * session other than the victim, at any depth: batches and JSONL streams
 * nest them): what legitimate `session.create` calls made.
 */
export function createdSessionIds(answer: unknown, victimId: string, into: Set<string>): void {
  const visit = (value: unknown, depth: number): void => {
    if (depth > 12 || typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    const record = value as Record<string, unknown>;
    const id = record.sessionId;
    if (typeof id === 'string' && id !== victimId && 'createdAt' in record) into.add(id);
    for (const item of Object.values(record)) visit(item, depth + 1);
  };
  visit(answer, 0);
}
