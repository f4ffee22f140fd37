import { afterEach, describe, expect, test, vi } from 'vitest';
import { createDemoServer, type DemoServer, type DemoServerOptions } from './app.js';

/** vi.waitFor's default 1 s is short on a busy machine; what is awaited takes milliseconds. */
const WAIT = { timeout: 10_000 };

const running: DemoServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((demo) => demo.close()));
});

async function start(options: DemoServerOptions = {}) {
  const exit = vi.fn<(code: number) => void>();
  const demo = createDemoServer({ log: () => {}, exit, ...options });
  running.push(demo);
  const { port } = await demo.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const createSession = async (): Promise<string> => {
    const res = await fetch(`${url}/trpc/session.create`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ json: {} }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { result: { data: { json: { sessionId: string } } } }).result.data
      .json.sessionId;
  };
  const chat = (sessionId: string | undefined, body: string) =>
    fetch(`${url}/api/chat`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(sessionId === undefined ? {} : { 'X-Session-Id': sessionId }),
      },
      body,
    });
  return { demo, url, exit, createSession, chat };
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await res.json()).toEqual({ error: { code, message: expect.any(String) } });
}

describe('POST /api/chat', () => {
  test('answers {reply, sessionId, messageCount}, counted per session', async () => {
    const { createSession, chat } = await start();
    const [a, b] = await Promise.all([createSession(), createSession()]);
    for (const expected of [1, 2, 3]) {
      const res = await chat(a, JSON.stringify({ message: `hello ${expected}` }));
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toEqual({ reply: expect.any(String), sessionId: a, messageCount: expected });
      expect(body.reply).toContain(`hello ${expected}`);
    }
    expect(await (await chat(b, '{"message":"hi"}')).json()).toMatchObject({
      sessionId: b,
      messageCount: 1,
    });
  });

  test('the same message and count give the same reply (no external service)', async () => {
    const { createSession, chat } = await start();
    const [a, b] = await Promise.all([createSession(), createSession()]);
    const [one, two] = await Promise.all([
      chat(a, '{"message":"What is Morgan?"}').then((res) => res.json()),
      chat(b, '{"message":"What is Morgan?"}').then((res) => res.json()),
    ]);
    expect(one.reply).toBe(two.reply);
  });

  test('concurrent messages from many sessions are counted exactly', async () => {
    const { demo, createSession, chat } = await start();
    const sessions = await Promise.all(Array.from({ length: 10 }, () => createSession()));
    const perSession = 5;
    const replies = await Promise.all(
      sessions.flatMap((id) =>
        Array.from({ length: perSession }, () =>
          chat(id, '{"message":"ping"}').then((res) => res.json()),
        ),
      ),
    );
    for (const id of sessions) {
      const counts = replies
        .filter((reply) => reply.sessionId === id)
        .map((reply) => reply.messageCount)
        .sort((x, y) => x - y);
      expect(counts).toEqual([1, 2, 3, 4, 5]);
      expect(await demo.chat.countOf(id)).toBe(perSession);
    }
    await vi.waitFor(() => expect(demo.manager.activeRequestCount).toBe(0), WAIT);
  });

  test('401 without a session, 404 for an unknown one, 400 for malformed ids', async () => {
    const { chat } = await start();
    await expectError(await chat(undefined, '{"message":"hi"}'), 401, 'SESSION_REQUIRED');
    await expectError(
      await chat('5b0f3c1e-8d2a-4f7b-9c3e-1a2b3c4d5e6f', '{"message":"hi"}'),
      404,
      'SESSION_NOT_FOUND',
    );
    await expectError(await chat('abc', '{"message":"hi"}'), 400, 'INVALID_SESSION_ID');
  });

  test('400 INVALID_REQUEST for malformed JSON, a missing, empty, non-string or too long message', async () => {
    const { createSession, chat } = await start({ chat: { maxMessageLength: 20 } });
    const id = await createSession();
    for (const body of [
      '{"message":',
      '{}',
      '{"message":""}',
      '{"message":"   "}',
      '{"message":42}',
      '[]',
    ]) {
      await expectError(await chat(id, body), 400, 'INVALID_REQUEST');
    }
    await expectError(
      await chat(id, JSON.stringify({ message: 'x'.repeat(21) })),
      400,
      'INVALID_REQUEST',
    );
    expect((await chat(id, JSON.stringify({ message: 'x'.repeat(20) }))).status).toBe(200);
  });

  test('413 for a body over the limit', async () => {
    const { createSession, chat } = await start();
    const id = await createSession();
    await expectError(
      await chat(id, JSON.stringify({ message: 'x'.repeat(20_000) })),
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  test('a deleted session loses its count, and so does an expired one', async () => {
    let clock = 0;
    const { demo, createSession, chat } = await start({
      managerOptions: { now: () => clock, sessionTimeoutMs: 60_000 },
    });
    const [gone, old] = await Promise.all([createSession(), createSession()]);
    await chat(gone, '{"message":"one"}');
    await chat(old, '{"message":"one"}');
    expect(await demo.chat.countOf(gone)).toBe(1);
    expect(await demo.chat.countOf(old)).toBe(1);

    await demo.manager.deleteSession(gone);
    await vi.waitFor(async () => expect(await demo.chat.countOf(gone)).toBe(0), WAIT);
    await vi.waitFor(() => expect(demo.manager.activeRequestCount).toBe(0), WAIT);
    clock += 60_001;
    await demo.manager.cleanup();
    await vi.waitFor(async () => expect(await demo.chat.countOf(old)).toBe(0), WAIT);
    await expectError(await chat(gone, '{"message":"again"}'), 404, 'SESSION_NOT_FOUND');
  });
});

describe('demo routes', () => {
  test('tRPC chat.send does what /api/chat does and shares its count', async () => {
    const { url, createSession, chat } = await start();
    const id = await createSession();
    await chat(id, '{"message":"first"}');
    const res = await fetch(`${url}/trpc/chat.send`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Session-Id': id },
      body: JSON.stringify({ json: { message: 'second' } }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.result.data.json).toEqual({
      reply: expect.any(String),
      sessionId: id,
      messageCount: 2,
    });

    const anonymous = await fetch(`${url}/trpc/chat.send`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ json: { message: 'hi' } }),
    });
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.json.data.errorCode).toBe('SESSION_REQUIRED');
  });

  test('health, readiness and metrics answer', async () => {
    const { url, createSession } = await start();
    await createSession();
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', activeSessions: 1, store: 'memory' });
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^morgan_sessions_created_total 1$/m);
    expect(metrics).toMatch(/^morgan_http_request_duration_seconds_count\{status="200"\} \d+$/m);
  });

  test('serves the chat page at / and the dashboard at /admin/; unknown routes answer JSON 404', async () => {
    const { url } = await start();
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const admin = await fetch(`${url}/admin`);
    expect(admin.status).toBe(200);
    expect(admin.url).toBe(`${url}/admin/`);
    expect(await admin.text()).toMatch(/<html/i);
    await expectError(await fetch(`${url}/no/such/page`), 404, 'ROUTE_NOT_FOUND');
    await expectError(await fetch(`${url}/api/chat`), 404, 'ROUTE_NOT_FOUND');
  });

  test('close() drains, stops the manager and the server without exiting', async () => {
    const { demo, url, exit } = await start();
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    await demo.close();
    expect(demo.server.listening).toBe(false);
    expect(demo.manager.stopping).toBe(true);
    expect(exit).not.toHaveBeenCalled();
  });
});
