// The demo's admin API from an attacker's side, on a real HTTP server: it
// refuses every call without the admin token (and with a wrong one) and
// changes nothing; with the token every route works.
import { afterEach, describe, expect, test } from 'vitest';
import { createDemoServer, type DemoServer } from '../app.js';
import { ADMIN_TOKEN_REQUIRED } from './index.js';

const TOKEN = 'the-real-admin-token-0123456789';

const running: DemoServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((demo) => demo.close()));
});

async function start() {
  const demo = createDemoServer({ log: () => {}, exit: () => {}, admin: { token: TOKEN } });
  running.push(demo);
  const { port } = await demo.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const victim = await demo.manager.createSession({ userId: 'victim' });
  await demo.manager.createSession({ userId: 'victim' });
  /** What an attacker could change; the same before and after a refused call. */
  const snapshot = async () => ({
    sessions: (await demo.manager.listSessions(100)).map((s) => s.sessionId).sort(),
    overload: demo.admin!.overload.state(),
    freeSlots: demo.manager.capacity.maxConcurrent - demo.manager.capacity.inFlight,
    deleted: (await demo.manager.getMetrics()).totalSessionsDeleted,
  });
  return { demo, url, victim: victim.sessionId, snapshot };
}

/** Every admin route, as an attacker who knows a victim's session id would call it. */
function adminCalls(victim: string): { method: string; path: string; body?: string }[] {
  return [
    { method: 'GET', path: '/api/admin/state' },
    { method: 'DELETE', path: `/api/admin/sessions/${victim}` },
    { method: 'POST', path: `/api/admin/sessions/${victim}/rotate` },
    { method: 'DELETE', path: '/api/admin/users/victim/sessions' },
    {
      method: 'PUT',
      path: '/api/admin/overload',
      body: JSON.stringify({ enabled: true, freeSlots: 0 }),
    },
    // Unknown routes too, so the API cannot be mapped without the token.
    { method: 'GET', path: '/api/admin/no-such-route' },
  ];
}

/** Credentials an attacker might try instead of the token. */
const attempts: { name: string; headers: Record<string, string>; query?: string }[] = [
  { name: 'no token', headers: {} },
  { name: 'a wrong token', headers: { authorization: 'Bearer not-the-admin-token-at-all' } },
  {
    name: 'a wrong token of the same length',
    headers: { authorization: `Bearer ${'x'.repeat(TOKEN.length)}` },
  },
  { name: 'the token with one character off', headers: { authorization: `Bearer ${TOKEN}0` } },
  { name: 'an empty bearer', headers: { authorization: 'Bearer ' } },
  { name: 'the token without a scheme', headers: { authorization: TOKEN } },
  { name: 'the token as Basic', headers: { authorization: `Basic ${TOKEN}` } },
  { name: 'the token in a cookie', headers: { cookie: `token=${TOKEN}` } },
  { name: 'the token in the query', headers: {}, query: `?token=${TOKEN}` },
];

describe('the admin API from an attacker’s side', () => {
  test.each(attempts)(
    'answers 401 ADMIN_TOKEN_REQUIRED to every route with $name, and changes nothing',
    async ({ headers, query = '' }) => {
      const { url, victim, snapshot } = await start();
      const before = await snapshot();
      for (const call of adminCalls(victim)) {
        const res = await fetch(`${url}${call.path}${query}`, {
          method: call.method,
          headers: { 'content-type': 'application/json', ...headers },
          ...(call.body !== undefined && { body: call.body }),
        });
        const what = `${call.method} ${call.path}`;
        expect(res.status, what).toBe(401);
        expect(res.headers.get('content-type'), what).toMatch(/^application\/json/);
        expect(res.headers.get('www-authenticate'), what).toMatch(/^Bearer /);
        const text = await res.text();
        expect(JSON.parse(text), what).toEqual({
          error: { code: ADMIN_TOKEN_REQUIRED, message: expect.any(String) },
        });
        expect(text, what).not.toContain(victim);
      }
      expect(await snapshot()).toEqual(before);
    },
  );

  test('with the token every route works', async () => {
    const { demo, url, victim } = await start();
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${url}/api/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    const state = await call('GET', '/state');
    expect(state.status).toBe(200);
    expect((await state.json()).totals.activeSessions).toBe(2);
    expect((await call('PUT', '/overload', { enabled: true })).status).toBe(200);
    expect(demo.admin!.overload.enabled).toBe(true);
    expect((await call('PUT', '/overload', { enabled: false })).status).toBe(200);
    const rotated = await call('POST', `/sessions/${victim}/rotate`);
    expect(rotated.status).toBe(200);
    const { handle } = (await rotated.json()) as { handle: string };
    expect((await call('DELETE', `/sessions/${handle}`)).status).toBe(200);
    expect(await (await call('DELETE', '/users/victim/sessions')).json()).toEqual({ deleted: 1 });
    expect(await demo.manager.listSessions(10)).toEqual([]);
  });
});
