// The example app, exactly as docs/existing-app.md builds it, attacked from
// another site with the logged-in visitor's cookie: an HTML form posting
// multipart/form-data to a mutation, and a WebSocket opened by a foreign
// page. Morgan's defaults refuse both; the app's own pages are unaffected.
import type { AddressInfo } from 'node:net';
import { SessionManager } from '@morgan/session-server';
import { expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { createApp } from './app.js';
import { logIn } from './client.js';
import { createDb } from './db.js';

async function startApp() {
  const db = createDb([
    { id: 'u-alice', name: 'Alice', username: 'alice', password: 'wonderland' },
  ]);
  const manager = new SessionManager().start();
  const { server, ws } = createApp({ db, secret: 'example secret', manager });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    manager,
    async [Symbol.asyncDispose]() {
      await ws.close({ drainTimeoutMs: 0 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await manager.stop({ drainTimeoutMs: 0 });
    },
  };
}

const BOUNDARY = '----form';

/** What a form on `origin` posts, with the visitor's cookie and the browser's headers. */
function formPost(url: string, cookie: string, origin: string, site: string) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      cookie,
      origin,
      'sec-fetch-site': site,
    },
    body: `--${BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--${BOUNDARY}--\r\n`,
  });
}

function upgradeStatus(url: string, origin: string, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { origin, cookie } });
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

test('a form on another site cannot create a session as the logged-in visitor', async () => {
  await using app = await startApp();
  const cookie = await logIn(app.url, 'alice', 'wonderland');
  const url = `${app.url}/trpc/session.create`;
  const attack = await formPost(url, cookie, 'https://attacker.example', 'cross-site');
  expect(attack.status).toBe(403);
  expect(await attack.json()).toMatchObject({ error: { code: 'CROSS_SITE_REQUEST' } });
  expect(await app.manager.listSessionsByUser('u-alice')).toEqual([]);
  // The app's own page posting the same way is served (tRPC's answer, not Morgan's 403).
  const own = await formPost(url, cookie, app.url, 'same-origin');
  expect(own.status).not.toBe(403);
});

test('a page on another site cannot open a socket with the visitor’s cookie', async () => {
  await using app = await startApp();
  const cookie = await logIn(app.url, 'alice', 'wonderland');
  const wsUrl = `ws://127.0.0.1:${app.port}/trpc`;
  expect(await upgradeStatus(wsUrl, 'https://attacker.example', cookie)).toBe(403);
  expect(await upgradeStatus(`${wsUrl}?mux=1`, 'https://attacker.example', cookie)).toBe(403);
  expect(await upgradeStatus(wsUrl, app.url, cookie)).toBe(101);
});
