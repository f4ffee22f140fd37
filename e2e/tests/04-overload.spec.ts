import { adminState, dashboardUrl, metric, setOverload } from '../support/admin-api.js';
import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';
import { screenshotPath } from '../support/screenshots.js';

// Scenario 4: with the node's capacity lowered, tabs that send at the same time
// are shed with 503, retry after Retry-After, and every message is answered
// exactly once.
test('overload: concurrent sends from many tabs get 503, succeed after retry, nothing lost or duplicated @readme-screenshots', async ({
  context,
  resources,
}) => {
  test.setTimeout(90_000);
  const demo = await resources.demo();
  const tabs = await Promise.all(
    Array.from({ length: 8 }, (_, i) => ChatTab.open(context, demo.url, { user: `load-${i}` })),
  );
  const dashboard = await context.newPage();
  await dashboard.setViewportSize({ width: 1280, height: 900 });
  await dashboard.goto(dashboardUrl(demo.url));
  await expect(dashboard.getByTestId('session-row')).toHaveCount(8);

  // Two free request slots, and each reply takes 600 ms: eight tabs at once overflow it.
  await setOverload(demo.url, { enabled: true, freeSlots: 2, replyDelayMs: 600 });
  await expect(dashboard.getByTestId('overload-state')).toContainText('on');

  const sent = tabs.map((_, i) => [0, 1, 2].map((k) => `load-${i}-${k}`));
  await Promise.all(
    tabs.map(async (tab, i) => {
      for (const text of sent[i]!) await tab.send(text);
    }),
  );

  // The user is told the server sheds load while the messages wait.
  const told = async () => {
    const visible = await Promise.all(tabs.map((tab) => tab.overloadBanner.isVisible()));
    return tabs.filter((_, i) => visible[i]);
  };
  await expect.poll(async () => (await told()).length, { timeout: 20_000 }).toBeGreaterThan(0);
  await expect((await told())[0]!.overloadBanner).toContainText('shedding load');

  // Mid-episode (half of the messages answered, the rest still being shed):
  // screenshots of a tab that was shed, and of the dashboard (the README's pictures).
  const answered = async () => {
    const counts = await Promise.all(tabs.map((tab) => tab.messages('assistant').count()));
    return counts.reduce((sum, n) => sum + n, 0);
  };
  await expect.poll(answered, { timeout: 60_000 }).toBeGreaterThanOrEqual(12);
  const shed = await told();
  const replies = await Promise.all(shed.map((tab) => tab.messages('assistant').count()));
  const pictured = shed[replies.indexOf(Math.max(...replies.filter((n) => n < 3), 0))] ?? shed[0]!;
  await pictured.page.bringToFront();
  await pictured.page.screenshot({ path: screenshotPath('chat.png') });
  await dashboard.bringToFront();
  await expect
    .poll(async () => Number(await dashboard.getByTestId('total-shed').textContent()))
    .toBeGreaterThan(0);
  await dashboard.screenshot({ path: screenshotPath('dashboard.png') });

  // Every message answered exactly once, in order, in its own tab.
  let retried = 0;
  for (const [i, tab] of tabs.entries()) {
    await tab.expectExchanges(3, 60_000);
    expect(await tab.texts('user')).toEqual(sent[i]);
    const replies = await tab.texts('assistant');
    expect(replies).toHaveLength(3);
    for (const [k, reply] of replies.entries()) {
      expect(reply).toContain(`"load-${i}-${k}"`);
      // A duplicate would have been counted: the k-th reply would not be #k+1.
      expect(reply).toContain(`message #${k + 1} in this session`);
    }
    await expect(tab.byTestId('message-count')).toHaveText('3');
    await expect(tab.page.locator('[data-testid="message"][data-status="failed"]')).toHaveCount(0);
    retried += await tab.shedRetries();
  }
  expect(retried).toBeGreaterThan(0);

  // The server counted at least every 503 the tabs retried (heartbeats may add more).
  const state = await adminState(demo.url);
  expect(state.totals.shed).toBeGreaterThanOrEqual(retried);
  expect(await metric(demo.url, 'morgan_requests_shed_total')).toBeGreaterThanOrEqual(
    state.totals.shed,
  );
  expect(state.overload.enabled).toBe(true);
  // The operator switches the simulation off on the dashboard.
  await dashboard.getByTestId('overload-toggle').click();
  await expect(dashboard.getByTestId('overload-state')).toHaveText('off');
  await expect(dashboard.getByTestId('overload-toggle')).toHaveAttribute('aria-pressed', 'false');
  expect((await adminState(demo.url)).overload).toMatchObject({ enabled: false, heldSlots: 0 });
});
