// An app with its own tRPC instance, its own context and its own login, as
// SPEC's "Fitting into an existing app" describes: Morgan's procedures built
// on the app's `t`, the app's `createContext` over HTTP and WebSocket, and
// the session's userId decided by the server (`identify`), never the client.
import {
  createTRPCClient,
  createWSClient,
  httpLink,
  TRPCClientError,
  type TRPCLink,
  wsLink,
} from '@trpc/client';
import { initTRPC } from '@trpc/server';
import express from 'express';
import superjson from 'superjson';
import { afterEach, describe, expect, expectTypeOf, test } from 'vitest';
import { WebSocket } from 'ws';
import { sessionMiddleware } from '../express/session-middleware.js';
import { trpcHandler } from '../express/trpc.js';
import { SessionManager } from '../manager.js';
import type { Session } from '../session.js';
import { startHttpServer } from '../testing/http-server.js';
import { attachWebSocket } from '../ws/attach.js';
import type { MorganContext } from './context.js';
import { morganErrorData } from './errors.js';
import { createMorganProcedures } from './procedures.js';

interface User {
  id: string;
  name: string;
}
interface AppContext {
  db: { todos: string[] };
  user: User | undefined;
}

const users: Record<string, User> = { 'token-alice': { id: 'alice', name: 'Alice' } };
const db = { todos: ['write docs'] };

/** The app's login: a bearer token in a cookie (HTTP, upgrade) or in connectionParams (WebSocket). */
function userFrom(cookie: string | undefined, token?: string): User | undefined {
  const fromCookie = /(?:^|;\s*)token=([^;]+)/.exec(cookie ?? '')?.[1];
  return users[token ?? fromCookie ?? ''];
}

const t = initTRPC.context<AppContext & MorganContext>().create({
  transformer: superjson,
  errorFormatter: ({ shape, error }) => ({
    ...shape,
    data: { ...shape.data, ...morganErrorData(error), app: 'formatted by the app' },
  }),
});
const { sessionProcedure, sessionRouter } = createMorganProcedures(t, {
  identify: (ctx) => ctx.user?.id,
});
const appRouter = t.router({
  session: sessionRouter,
  todos: t.router({
    list: sessionProcedure.query(({ ctx }) => ({
      todos: ctx.db.todos,
      user: ctx.user?.name ?? null,
      sessionUser: ctx.session.userId ?? null,
      transport: ctx.transport,
    })),
  }),
});
type AppRouter = typeof appRouter;

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

async function startApp() {
  const manager = new SessionManager().start();
  managers.push(manager);
  const app = express();
  app.use(sessionMiddleware(manager));
  app.use(
    '/trpc',
    trpcHandler(manager, appRouter, {
      createContext: ({ req }) => ({ db, user: userFrom(req.headers.cookie) }),
    }),
  );
  const http = await startHttpServer(app);
  const ws = attachWebSocket(http.server, {
    manager,
    router: appRouter,
    createContext: ({ req, connectionParams }) => ({
      db,
      user: userFrom(req.headers.cookie, connectionParams?.token),
    }),
  });
  const close = async () => {
    await ws.close({ drainTimeoutMs: 0 });
    await http.close();
  };
  return { manager, http, close };
}

function httpClient(url: string, headers: Record<string, string>) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, transformer: superjson, headers })],
  });
}

function wsClient(url: string, params: Record<string, string>, cookie?: string) {
  class CookieWebSocket extends WebSocket {
    constructor(address: string) {
      super(address, cookie === undefined ? {} : { headers: { cookie } });
    }
  }
  const socket = createWSClient({
    url: `${url.replace('http', 'ws')}/trpc`,
    connectionParams: () => params,
    WebSocket: CookieWebSocket as unknown as typeof globalThis.WebSocket,
    lazy: { enabled: false, closeMs: 0 },
  });
  const link: TRPCLink<AppRouter> = wsLink({ client: socket, transformer: superjson });
  return { trpc: createTRPCClient<AppRouter>({ links: [link] }), socket };
}

async function failure(call: Promise<unknown>) {
  const error = await call.then(
    () => expect.unreachable('the call should fail'),
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  return (error as TRPCClientError<AppRouter>).data;
}

describe('Morgan on the app’s own tRPC instance', () => {
  test('over HTTP: identify sets userId from the app’s login; procedures see ctx.db, ctx.user, ctx.session', async () => {
    const { manager, http, close } = await startApp();
    try {
      const loggedIn = httpClient(http.url, { cookie: 'token=token-alice' });
      const session = await loggedIn.session.create.mutate({ metadata: { theme: 'dark' } });
      expectTypeOf(session).toEqualTypeOf<Session>();
      expect(session.userId).toBe('alice');
      expect((await manager.getSessionByUser('alice'))?.sessionId).toBe(session.sessionId);

      const withSession = httpClient(http.url, {
        cookie: 'token=token-alice',
        'X-Session-Id': session.sessionId,
      });
      const list = await withSession.todos.list.query();
      expectTypeOf(list.todos).toEqualTypeOf<string[]>();
      expect(list).toEqual({
        todos: ['write docs'],
        user: 'Alice',
        sessionUser: 'alice',
        transport: 'http',
      });

      const anonymous = await httpClient(http.url, {}).session.create.mutate();
      expect(anonymous.userId).toBeUndefined();
    } finally {
      await close();
    }
  });

  test('a client-claimed userId answers 400 INVALID_REQUEST and creates nothing, over HTTP and WebSocket', async () => {
    const { manager, http, close } = await startApp();
    try {
      const before = await manager.getActiveSessionCount();
      const data = await failure(
        httpClient(http.url, {}).session.create.mutate({ userId: 'alice' }),
      );
      expect(data).toMatchObject({
        httpStatus: 400,
        errorCode: 'INVALID_REQUEST',
        app: 'formatted by the app',
      });

      const owner = await manager.createSession();
      const { trpc, socket } = wsClient(http.url, { sessionId: owner.sessionId });
      try {
        const overWs = await failure(trpc.session.create.mutate({ userId: 'alice' }));
        expect(overWs).toMatchObject({ errorCode: 'INVALID_REQUEST' });
      } finally {
        await socket.close();
      }
      expect(await manager.getActiveSessionCount()).toBe(before + 1);
      expect(await manager.getSessionByUser('alice')).toBeUndefined();
    } finally {
      await close();
    }
  });

  test('over WebSocket: the app’s createContext gets the upgrade request and connectionParams', async () => {
    const { manager, http, close } = await startApp();
    try {
      const session = await manager.createSession();
      const byToken = wsClient(http.url, { sessionId: session.sessionId, token: 'token-alice' });
      try {
        expect(await byToken.trpc.todos.list.query()).toEqual({
          todos: ['write docs'],
          user: 'Alice',
          sessionUser: null,
          transport: 'ws',
        });
        const created = await byToken.trpc.session.create.mutate();
        expect(created.userId).toBe('alice');
      } finally {
        await byToken.socket.close();
      }
      const byCookie = wsClient(http.url, { sessionId: session.sessionId }, 'token=token-alice');
      try {
        expect((await byCookie.trpc.todos.list.query()).user).toBe('Alice');
      } finally {
        await byCookie.socket.close();
      }
      const anonymous = wsClient(http.url, { sessionId: session.sessionId });
      try {
        expect((await anonymous.trpc.todos.list.query()).user).toBeNull();
      } finally {
        await anonymous.socket.close();
      }
    } finally {
      await close();
    }
  });
});
