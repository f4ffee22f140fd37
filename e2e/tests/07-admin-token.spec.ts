import type { Page } from '@playwright/test';
import { adminToken, dashboardUrl, shortSessionId } from '../support/admin-api.js';
import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';

// Scenario 7: the dashboard behind the admin token, and both pages under
// their Content-Security-Policy in a real Chromium.

/** Records the page's CSP violations (an init script runs before any of the page's own). */
async function watchCsp(page: Page): Promise<() => Promise<string[]>> {
  const logged: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) logged.push(message.text());
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (event) => {
      seen.push(`${event.effectiveDirective} ${event.blockedURI}`);
    });
  });
  return async () => [
    ...logged,
    ...(await page.evaluate(
      () => (window as unknown as { cspViolations: string[] }).cspViolations,
    )),
  ];
}

test('the printed URL opens the dashboard, the token leaves the address bar, and both pages work under the CSP', async ({
  context,
  resources,
}) => {
  const demo = await resources.demo();
  const chatPage = await context.newPage();
  const chatViolations = await watchCsp(chatPage);
  await chatPage.goto(`${demo.url}/?user=csp`);
  const tab = new ChatTab(chatPage);
  // The WebSocket (connect-src 'self') and the bundle (script-src 'self') both work.
  await tab.expectConnected();
  await tab.send('hello under the CSP');
  await tab.expectExchanges(1);
  const id = await tab.sessionId();

  const dashboard = await context.newPage();
  const dashboardViolations = await watchCsp(dashboard);
  const response = await dashboard.goto(dashboardUrl(demo.url));
  const csp = response?.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  await expect(dashboard.locator('body')).toHaveAttribute('data-ready', 'true');
  await expect(
    dashboard.locator(`[data-testid="session-row"][data-short-id="${shortSessionId(id)}"]`),
  ).toBeVisible();
  await expect(dashboard.getByTestId('token-card')).toBeHidden();
  // The token left the address bar (replaceState: the history entry too); the tab keeps it for reloads.
  expect(dashboard.url()).toBe(`${demo.url}/admin/`);
  expect(await dashboard.evaluate(() => sessionStorage.getItem('morgan-admin-token'))).toBe(
    adminToken,
  );
  // No full session id anywhere in the page.
  expect(await dashboard.content()).not.toContain(id);
  await dashboard.reload();
  await expect(dashboard.getByTestId('session-row')).toHaveCount(1);
  await expect(dashboard.getByTestId('token-card')).toBeHidden();

  // The overload switch works from the page.
  await dashboard.getByTestId('overload-toggle').click();
  await expect(dashboard.getByTestId('overload-state')).toHaveText('on');
  await dashboard.getByTestId('overload-toggle').click();
  await expect(dashboard.getByTestId('overload-state')).toHaveText('off');

  expect(await chatViolations()).toEqual([]);
  expect(await dashboardViolations()).toEqual([]);
  // The policy is in force: an inline script injected now is refused and reported.
  await dashboard.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.inlineRan = true';
    document.head.append(script);
  });
  await expect
    .poll(async () => (await dashboardViolations()).some((v) => /script-src/.test(v)))
    .toBe(true);
  expect(await dashboard.evaluate(() => 'inlineRan' in window)).toBe(false);
});

test('without the token, or with a wrong one, the dashboard asks for it; the right one opens it', async ({
  context,
  resources,
}) => {
  const demo = await resources.demo();
  await ChatTab.open(context, demo.url, { user: 'asked' });

  const dashboard = await context.newPage();
  await dashboard.goto(`${demo.url}/admin/`);
  const card = dashboard.getByTestId('token-card');
  await expect(card).toBeVisible();
  await expect(dashboard.getByTestId('token-message')).toHaveAttribute('data-reason', 'missing');
  await expect(dashboard.getByTestId('sessions-table')).toBeHidden();
  await expect(dashboard.getByTestId('session-row')).toHaveCount(0);

  await dashboard.getByTestId('token-input').fill('not-the-admin-token-at-all');
  await dashboard.getByTestId('token-submit').click();
  await expect(dashboard.getByTestId('token-message')).toHaveAttribute('data-reason', 'refused');
  await expect(card).toBeVisible();
  expect(await dashboard.evaluate(() => sessionStorage.getItem('morgan-admin-token'))).toBeNull();

  await dashboard.getByTestId('token-input').fill(adminToken);
  await dashboard.getByTestId('token-submit').click();
  await expect(card).toBeHidden();
  await expect(dashboard.getByTestId('session-row')).toHaveCount(1);
  await expect(dashboard.getByTestId('sessions-table')).toBeVisible();

  // A wrong token in the fragment is refused the same way.
  const other = await context.newPage();
  await other.goto(dashboardUrl(demo.url, 'a-wrong-token-in-the-fragment'));
  await expect(other.getByTestId('token-message')).toHaveAttribute('data-reason', 'refused');
  expect(other.url()).toBe(`${demo.url}/admin/`);
  // The printed URL pasted into that tab changes only the fragment (no reload): it is taken too.
  await other.goto(dashboardUrl(demo.url));
  await expect(other.getByTestId('token-card')).toBeHidden();
  await expect(other.getByTestId('session-row')).toHaveCount(1);
  expect(other.url()).toBe(`${demo.url}/admin/`);
});

test('no other page can frame the dashboard (frame-ancestors none)', async ({
  page,
  resources,
}) => {
  const demo = await resources.demo();
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/frame-ancestors/.test(message.text())) refused.push(message.text());
  });
  await page.setContent(
    `<iframe src="${dashboardUrl(demo.url)}" width="800" height="600"></iframe>`,
  );
  await expect.poll(() => refused.length).toBeGreaterThan(0);
  await expect(page.frameLocator('iframe').getByTestId('overload-toggle')).toHaveCount(0);
});
