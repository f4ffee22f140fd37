// Attacker's side: deeply nested input on a real server, over HTTP and
// WebSocket. Every answer is a JSON 400 with a stable code, nothing is
// created, nothing reaches the internal-error log, and the server goes on.
import express from 'express';
import { afterEach, describe, expect, test } from 'vitest';
import { SessionManager } from '../manager.js';
import { startHttpServer } from '../testing/http-server.js';
import { createSessionRouter } from '../trpc/session-router.js';
import { attachWebSocket } from '../ws/attach.js';
import { call, connect } from '../ws/testing/ws-server.js';
import { sessionMiddleware } from './session-middleware.js';
import { trpcHandler } from './trpc.js';

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

async function startApp() {
  const manager = new SessionManager().start();
  managers.push(manager);
  const internal: unknown[] = [];
  const router = createSessionRouter();
  const app = express();
  app.use(sessionMiddleware(manager));
  app.use('/trpc', trpcHandler(manager, router, { onInternalError: (e) => internal.push(e) }));
  const http = await startHttpServer(app);
  const ws = attachWebSocket(http.server, {
    manager,
    router,
    onError: ({ error }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') internal.push(error);
    },
  });
  const close = async () => {
    await ws.close({ drainTimeoutMs: 0 });
    await http.close();
  };
  return { manager, http, internal, close };
}

describe('deeply nested input', () => {
  test.each([17, 1_000, 100_000])(
    'metadata nested %i deep answers 400 over HTTP and creates no session',
    async (depth) => {
      const { manager, http, internal, close } = await startApp();
      try {
        const res = await fetch(`${http.url}/trpc/session.create`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"json":{"metadata":${nested(depth)}}}`,
        });
        expect(res.status).toBe(400);
        const body = (await res.json()) as { error: { json: { data: { errorCode: string } } } };
        expect(['INVALID_METADATA', 'INVALID_REQUEST']).toContain(body.error.json.data.errorCode);
        expect(await manager.getActiveSessionCount()).toBe(0);
        expect(internal).toEqual([]);
        // The node still serves.
        const ok = await fetch(`${http.url}/trpc/session.create`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"json":{"metadata":${nested(16)}}}`,
        });
        expect(ok.status).toBe(200);
      } finally {
        await close();
      }
    },
  );

  test('over WebSocket too: the call fails with a stable code and the socket stays usable', async () => {
    const { manager, http, internal, close } = await startApp();
    try {
      const owner = await manager.createSession();
      const socket = await connect(`${http.url.replace('http', 'ws')}/trpc`, owner.sessionId);
      const raw = `{"id":1,"method":"mutation","params":{"path":"session.create","input":{"json":{"metadata":${nested(50_000)}}}}}`;
      const answer = new Promise<Record<string, unknown>>((resolve) => {
        socket.on('message', (data: Buffer) => {
          const message = JSON.parse(data.toString()) as Record<string, unknown>;
          if (message.id === 1) resolve(message);
        });
      });
      socket.send(raw);
      expect(JSON.stringify(await answer)).toMatch(
        /"errorCode":"(INVALID_METADATA|INVALID_REQUEST)"/,
      );
      const after = await call(socket, 2, 'query', 'session.get', null);
      expect(after.result).toMatchObject({ data: { json: { sessionId: owner.sessionId } } });
      expect(await manager.getActiveSessionCount()).toBe(1);
      expect(internal).toEqual([]);
      socket.close();
    } finally {
      await close();
    }
  });
});
