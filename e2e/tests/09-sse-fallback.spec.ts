import { establishedConnections } from '@morgan/test-support';
import { adminState, health } from '../support/admin-api.js';
import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';

// Scenario 9: a proxy in front of the demo refuses WebSocket upgrades (nginx
// answers them 403). The tabs use the demo page's default, the SDK's opt-in
// `transport: sseTransport()` ('auto'):
// their sockets fail while HTTP works, so they move to SSE, and the chat and
// the session's events work as before, with no socket open at the server.
test('behind a proxy that refuses WebSockets, tabs on the default transport work over SSE', async ({
  context,
  resources,
}) => {
  const demo = await resources.demo();
  const nginx = await resources.nginx([demo], { refuseWebSocket: true });

  // Two tabs share one session (localStorage), a third has its own.
  const first = await ChatTab.open(context, nginx.url, { storage: 'local', user: 'sse-a' });
  const second = await ChatTab.open(context, nginx.url, { storage: 'local', user: 'sse-a' });
  const third = await ChatTab.open(context, nginx.url, { user: 'sse-b' });
  const tabs = [first, second, third];
  for (const tab of tabs) {
    await expect(tab.byTestId('transport')).toHaveAttribute('data-transport', 'sse');
  }
  const shared = await first.sessionId();
  expect(await second.sessionId()).toBe(shared);
  expect(await third.sessionId()).not.toBe(shared);

  // Calls go over HTTP; the reply to the first tab's message reaches the
  // second tab as a session event, over its SSE stream.
  await first.send('hello over sse');
  await first.expectExchanges(1);
  expect((await first.texts('assistant'))[0]).toContain('"hello over sse"');
  const relayed = second.page.locator('[data-origin="event"]', { hasText: 'hello over sse' });
  await expect(relayed.first()).toBeVisible({ timeout: 15_000 });
  await third.send('third tab');
  await third.expectExchanges(1);
  expect((await third.texts('assistant'))[0]).toContain('message #1 in this session');

  // At the server: no WebSocket on any session, the event streams open
  // (nginx holds one upstream connection per streaming tab), two sessions.
  const state = await adminState(demo.url);
  expect(state.sessions.map((session) => session.connectionCount)).toEqual([0, 0]);
  expect((await health(demo.url)).activeSessions).toBe(2);
  expect(establishedConnections(demo.pid as number, demo.port)).toBeGreaterThanOrEqual(3);
  // nginx saw the upgrades and refused every one.
  const upgrades = nginx.accessLog().filter((entry) => entry.webSocket);
  expect(upgrades.length).toBeGreaterThanOrEqual(tabs.length * 2);
  expect(new Set(upgrades.map((entry) => entry.status))).toEqual(new Set([403]));
  for (const tab of tabs) {
    await expect(tab.state).toHaveAttribute('data-state', 'connected');
    await expect(tab.byTestId('gap-count')).toHaveText('0');
  }
});

test('?transport=sse opens no socket at all, and ?transport=websocket keeps to the WebSocket', async ({
  context,
  resources,
}) => {
  const demo = await resources.demo();
  const nginx = await resources.nginx([demo]);
  const sse = await ChatTab.open(context, nginx.url, { user: 'sse-only', transport: 'sse' });
  await expect(sse.byTestId('transport')).toHaveAttribute('data-transport', 'sse');
  await sse.send('only sse');
  await sse.expectExchanges(1);
  expect(nginx.accessLog().filter((entry) => entry.webSocket)).toEqual([]);
  expect((await adminState(demo.url)).sessions.map((s) => s.connectionCount)).toEqual([0]);

  const ws = await ChatTab.open(context, nginx.url, { user: 'ws-only', transport: 'websocket' });
  await expect(ws.byTestId('transport')).toHaveAttribute('data-transport', 'websocket');
  await ws.send('only websocket');
  await ws.expectExchanges(1);
  await expect
    .poll(async () => (await adminState(demo.url)).sessions.map((s) => s.connectionCount).sort())
    .toEqual([0, 1]);
});
