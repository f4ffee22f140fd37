import { adminState, dashboardUrl, health, shortSessionId } from '../support/admin-api.js';
import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';

// Scenario 1: ten tabs of one browser context each get their own session, and
// nothing one tab does shows up in another.
test('10 tabs in one context: 10 distinct sessions, no crossed messages or counters, dashboard lists 10', async ({
  context,
  resources,
}) => {
  const demo = await resources.demo();
  const tabs = await Promise.all(
    Array.from({ length: 10 }, (_, i) => ChatTab.open(context, demo.url, { user: `tab-${i}` })),
  );

  const ids = await Promise.all(tabs.map((tab) => tab.sessionId()));
  expect(new Set(ids).size).toBe(10);

  // Every tab sends its own tokens at the same time; tab i sends i % 3 + 1 messages.
  const sent = tabs.map((_, i) => Array.from({ length: (i % 3) + 1 }, (_, k) => `token-${i}-${k}`));
  await Promise.all(
    tabs.map(async (tab, i) => {
      for (const text of sent[i]!) await tab.send(text);
    }),
  );
  for (const [i, tab] of tabs.entries()) {
    await tab.expectExchanges(sent[i]!.length);
    expect(await tab.texts('user')).toEqual(sent[i]);
    const replies = await tab.texts('assistant');
    // Each reply quotes its own message and counts within its own session only.
    expect(replies).toHaveLength(sent[i]!.length);
    for (const [k, reply] of replies.entries()) {
      expect(reply).toContain(`"token-${i}-${k}"`);
      expect(reply).toContain(`message #${k + 1} in this session`);
    }
    const all = `${(await tab.texts('user')).join(' ')} ${replies.join(' ')}`;
    for (const other of all.match(/token-\d+/g) ?? []) expect(other).toBe(`token-${i}`);
    await expect(tab.byTestId('message-count')).toHaveText(String(sent[i]!.length));
    await expect(tab.byTestId('session-id')).toHaveAttribute('data-session-id', ids[i]!);
  }

  // What the server reports: 10 live sessions, each with one open socket and
  // its own user; the dashboard lists all 10.
  await expect.poll(async () => (await health(demo.url)).activeSessions).toBe(10);
  const state = await adminState(demo.url);
  expect(state.sessions.map((s) => s.shortId).sort()).toEqual(ids.map(shortSessionId).sort());
  for (const [i, id] of ids.entries()) {
    const row = state.sessions.find((s) => s.shortId === shortSessionId(id))!;
    expect(row.userId).toBe(`tab-${i}`);
  }
  await expect
    .poll(async () => (await adminState(demo.url)).sessions.map((s) => s.connectionCount))
    .toEqual(Array(10).fill(1));

  const dashboard = await context.newPage();
  await dashboard.goto(dashboardUrl(demo.url));
  await expect(dashboard.getByTestId('session-row')).toHaveCount(10);
  await expect(dashboard.getByTestId('total-sessions')).toHaveText('10');
  for (const id of ids) {
    await expect(
      dashboard.locator(`[data-testid="session-row"][data-short-id="${shortSessionId(id)}"]`),
    ).toBeVisible();
  }
});
