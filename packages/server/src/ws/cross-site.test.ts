// Cross-site WebSocket hijacking from the attacker's side, on a real server
// built as docs/existing-app.md shows: the app's WebSocket `createContext`
// reads the login cookie from the upgrade request. A page on another site
// opens a socket (the browser attaches the victim's cookie), authenticates
// it with a Morgan session of its own and calls as the victim, unless the
// upgrade is refused. Per-tab sockets and shared sockets (`?mux=1`) alike.
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startVictimApp, startVictimBehindNginx, type VictimApp } from '../testing/victim-app.js';
import { call, closed, connect } from './testing/ws-server.js';

const ATTACKER = 'https://attacker.example';

/** A Morgan session of the attacker's own (`session.create` is public). */
async function ownSession(app: VictimApp): Promise<string> {
  const response = await fetch(`${app.url}/trpc/session.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const body = (await response.json()) as { result: { data: { json: { sessionId: string } } } };
  return body.result.data.json.sessionId;
}

/** Opens a socket as a page of `origin` would, the victim's cookie attached: its upgrade status. */
function upgradeStatus(url: string, origin: string | undefined, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      headers: { cookie, ...(origin === undefined ? {} : { origin }) },
    });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => {
      socket.terminate();
      resolve(res.statusCode ?? 0);
    });
    socket.once('error', (error) => {
      if (socket.readyState !== WebSocket.CLOSED) reject(error);
    });
  });
}

/** The whole hijack: open, authenticate with the attacker's session, ask who the cookie names. */
async function hijack(app: VictimApp, wsUrl: string, origin: string | undefined, cookie: string) {
  const sessionId = await ownSession(app);
  const headers = { cookie, ...(origin === undefined ? {} : { origin }) };
  const socket = await connect(wsUrl, sessionId, { headers });
  try {
    const answer = await call(socket, 1, 'query', 'bank.whoami', undefined);
    return (answer.result as { data: { json: unknown } }).data.json;
  } finally {
    socket.close();
    await closed(socket);
  }
}

describe('cross-site WebSocket upgrades', () => {
  test('the hijack works when the attacker is listed: the socket is answered as the victim', async () => {
    // The control for the refusals below: the same page, allowed, rides on the cookie.
    await using app = await startVictimApp({ allowedOrigins: [ATTACKER] });
    const cookie = await app.logIn('victim');
    expect(await hijack(app, `ws://127.0.0.1:${app.port}/trpc`, ATTACKER, cookie)).toBe('victim');
  });

  test('a page of another site is refused with 403 before the upgrade, per-tab and shared', async () => {
    await using app = await startVictimApp();
    const cookie = await app.logIn('victim');
    const base = `ws://127.0.0.1:${app.port}/trpc`;
    expect(await upgradeStatus(`${base}?connectionParams=1`, ATTACKER, cookie)).toBe(403);
    expect(await upgradeStatus(`${base}?mux=1`, ATTACKER, cookie)).toBe(403);
    // A sibling subdomain is another origin too.
    expect(await upgradeStatus(base, 'https://blog.bank.example', cookie)).toBe(403);
    expect(await upgradeStatus(base, 'null', cookie)).toBe(403);
    expect(app.ws.connectionCount).toBe(0);
  });

  test('same-origin pages and clients without an Origin connect, per-tab and shared', async () => {
    await using app = await startVictimApp();
    const cookie = await app.logIn('victim');
    const base = `ws://127.0.0.1:${app.port}/trpc`;
    expect(await hijack(app, base, app.url, cookie)).toBe('victim');
    expect(await hijack(app, base, undefined, cookie)).toBe('victim');
    expect(await upgradeStatus(`${base}?mux=1`, app.url, cookie)).toBe(101);
    expect(await upgradeStatus(`${base}?mux=1`, undefined, cookie)).toBe(101);
  });

  test('listed origins connect on a shared socket too; others stay refused', async () => {
    await using app = await startVictimApp({ allowedOrigins: ['https://app.partner.example'] });
    const cookie = await app.logIn('victim');
    const base = `ws://127.0.0.1:${app.port}/trpc`;
    expect(await upgradeStatus(`${base}?mux=1`, 'https://APP.partner.example', cookie)).toBe(101);
    expect(await upgradeStatus(`${base}?mux=1`, ATTACKER, cookie)).toBe(403);
  });

  test('behind nginx with trust proxy, a page of the public origin connects', async () => {
    await using trusting = await startVictimBehindNginx(true);
    await using untrustingStack = await startVictimBehindNginx(false);
    const { app, nginx } = trusting;
    const { app: untrusting, nginx: nginxUntrusted } = untrustingStack;
    const cookie = await app.logIn('victim');
    const wsUrl = `ws://127.0.0.1:${nginx.port}/trpc`;
    expect(await hijack(app, wsUrl, nginx.url, cookie)).toBe('victim');
    expect(await upgradeStatus(wsUrl, ATTACKER, cookie)).toBe(403);
    // Without trust proxy nginx's Host (its upstream group) is what the page is judged by.
    const other = await untrusting.logIn('victim');
    const untrustedUrl = `ws://127.0.0.1:${nginxUntrusted.port}/trpc`;
    expect(await upgradeStatus(untrustedUrl, nginxUntrusted.url, other)).toBe(403);
  });
});
