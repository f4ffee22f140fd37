// The example app over real HTTP and a real WebSocket on loopback ports: its
// Passport login works the same without Morgan and with Morgan (mounted
// before or after the login), and with Morgan its procedures see ctx.user,
// ctx.db and ctx.session, and a session's userId comes from the login only.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SessionManager } from '@morgan/session-server';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { describe, expect, expectTypeOf, test, vi } from 'vitest';
import { createApp } from './app.js';
import { createAppClient, logIn } from './client.js';
import { createDb, type Todo, type User } from './db.js';
import type { AppRouter } from './router.js';
import { createAppWithoutMorgan, type RouterWithoutMorgan } from './without-morgan.js';

const alice: User = { id: 'u-alice', name: 'Alice' };
const secret = 'example secret';

function exampleDb() {
  return createDb([
    { ...alice, username: 'alice', password: 'wonderland' },
    { id: 'u-bob', name: 'Bob', username: 'bob', password: 'builder' },
  ]);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
}

type Variant = 'without Morgan' | 'Morgan before the login' | 'Morgan after the login';

/** The example app on a loopback port; `await using` closes everything it started. */
async function startApp(variant: Variant = 'Morgan before the login') {
  const db = exampleDb();
  if (variant === 'without Morgan') {
    const server = createAppWithoutMorgan(db, { secret });
    const url = await listen(server);
    return { url, db, manager: undefined, [Symbol.asyncDispose]: () => closeServer(server) };
  }
  const manager = new SessionManager().start();
  const morgan = variant === 'Morgan before the login' ? 'before-login' : 'after-login';
  const { server, ws } = createApp({ db, secret, manager, morgan });
  const url = await listen(server);
  return {
    url,
    db,
    manager,
    async [Symbol.asyncDispose]() {
      await ws.close({ drainTimeoutMs: 0 });
      await closeServer(server);
      await manager.stop({ drainTimeoutMs: 0 });
    },
  };
}

function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe.each<Variant>(['without Morgan', 'Morgan before the login', 'Morgan after the login'])(
  'the app’s own login, %s',
  (variant) => {
    test('a wrong password answers 401; the right one sets the cookie; /me and logout follow it', async () => {
      await using app = await startApp(variant);
      const wrong = await postJson(`${app.url}/login`, { username: 'alice', password: 'nope' });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.getSetCookie()).toEqual([]);

      const login = await postJson(`${app.url}/login`, {
        username: 'alice',
        password: 'wonderland',
      });
      expect(login.status).toBe(200);
      expect(await login.json()).toEqual({ user: alice });
      const cookie = login.headers.getSetCookie()[0]?.split(';')[0] ?? '';
      expect(cookie).toMatch(/^connect\.sid=/);

      const me = await fetch(`${app.url}/me`, { headers: { cookie } });
      expect(await me.json()).toEqual({ user: alice });
      expect(await (await fetch(`${app.url}/me`)).json()).toEqual({ user: null });

      const logout = await fetch(`${app.url}/logout`, { method: 'POST', headers: { cookie } });
      expect(logout.status).toBe(200);
      const after = await fetch(`${app.url}/me`, { headers: { cookie } });
      expect(await after.json()).toEqual({ user: null });
    });
  },
);

describe('the app without Morgan', () => {
  test('its own tRPC procedures see ctx.user and ctx.db from the login', async () => {
    await using app = await startApp('without Morgan');
    const cookie = await logIn(app.url, 'alice', 'wonderland');
    const trpc = createTRPCClient<RouterWithoutMorgan>({
      links: [httpLink({ url: `${app.url}/trpc`, transformer: superjson, headers: { cookie } })],
    });
    await trpc.todos.add.mutate({ text: 'buy milk' });
    expect(await trpc.todos.list.query()).toEqual({
      user: alice,
      todos: [{ id: 1, userId: alice.id, text: 'buy milk' }],
    });
  });
});

describe('the app with Morgan', () => {
  test('the SDK, logged in: the session’s userId is the login’s; procedures see ctx.user, ctx.db, ctx.session over HTTP', async () => {
    await using app = await startApp();
    const cookie = await logIn(app.url, 'alice', 'wonderland');
    const client = createAppClient(app.url, cookie);
    try {
      const session = await client.connect();
      expect(session.userId).toBe(alice.id);
      expect((await app.manager?.getSessionByUser(alice.id))?.sessionId).toBe(session.sessionId);

      const added = await client.trpc.todos.add.mutate({ text: 'buy milk' });
      expectTypeOf(added).toEqualTypeOf<Todo>();
      expect(await client.trpc.todos.list.query()).toEqual({
        user: alice,
        todos: [{ id: 1, userId: alice.id, text: 'buy milk' }],
        session: { sessionId: session.sessionId, userId: alice.id },
        transport: 'http',
      });
      // Passport's cookie session still works beside Morgan's X-Session-Id.
      const me = await client.fetch('/me');
      expect(await me.json()).toEqual({ user: alice });
    } finally {
      await client.close({ endSession: true });
    }
  });

  test('the app’s own tRPC client on client.links() carries the same session', async () => {
    await using app = await startApp();
    const cookie = await logIn(app.url, 'alice', 'wonderland');
    const client = createAppClient(app.url, cookie);
    try {
      const session = await client.connect();
      const trpc = createTRPCClient<AppRouter>({ links: client.links() });
      expect((await trpc.todos.list.query()).session).toEqual({
        sessionId: session.sessionId,
        userId: alice.id,
      });
    } finally {
      await client.close({ endSession: true });
    }
  });

  test('over the WebSocket, the app’s createContext reads the login from the upgrade request’s cookie', async () => {
    await using app = await startApp('Morgan after the login');
    const cookie = await logIn(app.url, 'alice', 'wonderland');
    const client = createAppClient(app.url, cookie);
    try {
      await client.connect();
      const events: unknown[] = [];
      client.subscribeEvents((event) => events.push(event));
      const seen: { todos: Todo[]; transport: string; user: User }[] = [];
      const live = client.trpc.todos.live.subscribe(undefined, { onData: (d) => seen.push(d) });
      try {
        await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 10_000 });
        expect(seen[0]).toEqual({ user: alice, todos: [], transport: 'ws' });

        const todo = await client.trpc.todos.add.mutate({ text: 'walk the dog' });
        await vi.waitFor(() => expect(seen).toHaveLength(2), { timeout: 10_000 });
        expect(seen[1]?.todos).toEqual([todo]);
        // ctx.manager.publish in the procedure reaches this session's event stream.
        await vi.waitFor(
          () =>
            expect(events).toEqual([expect.objectContaining({ type: 'todo.added', data: todo })]),
          { timeout: 10_000 },
        );
      } finally {
        live.unsubscribe();
      }
    } finally {
      await client.close({ endSession: true });
    }
  });

  test('without a login: a session without userId; procedures that need a user answer 401', async () => {
    await using app = await startApp();
    const client = createAppClient(app.url);
    try {
      const session = await client.connect();
      expect(session.userId).toBeUndefined();
      expect(await client.trpc.todos.list.query()).toMatchObject({ user: null, todos: [] });
      const failed = await client.trpc.todos.add.mutate({ text: 'x' }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(TRPCClientError);
      expect((failed as TRPCClientError<never>).data).toMatchObject({
        code: 'UNAUTHORIZED',
        httpStatus: 401,
        errorCode: 'UNAUTHORIZED',
      });
    } finally {
      await client.close({ endSession: true });
    }
  });

  test('log out everywhere ends every session of the user; its clients carry on with new anonymous sessions', async () => {
    await using app = await startApp();
    const cookie = await logIn(app.url, 'alice', 'wonderland');
    const devices = [createAppClient(app.url, cookie), createAppClient(app.url, cookie)];
    try {
      const sessions = await Promise.all(devices.map((client) => client.connect()));
      expect(sessions.map((session) => session.userId)).toEqual([alice.id, alice.id]);
      const replaced = devices.map(
        (client) =>
          new Promise<string>((resolve) => {
            client.on('session-replaced', ({ sessionId }) => resolve(sessionId));
          }),
      );
      // Their sockets are open, so the server has something to close with 4404.
      for (const client of devices) client.subscribeEvents();

      const response = await fetch(`${app.url}/logout-everywhere`, {
        method: 'POST',
        headers: { cookie },
      });
      expect(await response.json()).toEqual({ ended: 2 });
      expect(await app.manager?.listSessionsByUser(alice.id)).toEqual([]);
      const newIds = await Promise.all(replaced);
      for (const [i, id] of newIds.entries()) {
        expect(id).not.toBe(sessions[i]?.sessionId);
        // The cookie's login ended too, so identify gave the new sessions no user.
        expect((await app.manager?.getSession(id))?.userId).toBeUndefined();
      }
      expect(await (await fetch(`${app.url}/me`, { headers: { cookie } })).json()).toEqual({
        user: null,
      });
    } finally {
      await Promise.all(devices.map((client) => client.close({ endSession: true })));
    }
  });

  test('a userId sent by the client is refused with 400 INVALID_REQUEST, logged in or not', async () => {
    await using app = await startApp();
    const cookie = await logIn(app.url, 'alice', 'wonderland');
    for (const headers of [{}, { cookie }]) {
      const claimed = await postJson(
        `${app.url}/trpc/session.create`,
        { json: { userId: 'u-bob' } },
        headers,
      );
      expect(claimed.status).toBe(400);
      const body = (await claimed.json()) as { error: { json: { data: { errorCode: string } } } };
      expect(body.error.json.data.errorCode).toBe('INVALID_REQUEST');
    }
    // The SDK's `userId` option is refused the same way: connect() rejects with
    // the 400 and the client closes, instead of retrying a refusal for ever.
    const client = createAppClient(app.url, cookie, { userId: 'u-bob' });
    try {
      await expect(client.connect()).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        httpStatus: 400,
      });
      expect(client.state).toBe('closed');
    } finally {
      await client.close();
    }
    expect(await app.manager?.getSessionByUser('u-bob')).toBeUndefined();
    expect(await app.manager?.getActiveSessionCount()).toBe(0);
  });
});
