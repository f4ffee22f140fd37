import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';

// Exactly-once sends: the connection is cut while a message is being sent,
// after the server ran it but before the tab saw the answer. The tab sends
// it again with the same idempotency key; the server answers the first
// reply instead of running it twice: one reply, and no duplicate.
test('a message whose answer was lost on a cut connection is answered once, with no duplicate', async ({
  context,
  resources,
}) => {
  const demo = await resources.demo();
  const tab = await ChatTab.open(context, demo.url, { user: 'exactly-once' });

  const sends: { key: string | null; outcome: string }[] = [];
  await tab.page.route('**/trpc/chat.send**', async (route) => {
    const key = await route.request().headerValue('idempotency-key');
    if (sends.length === 0) {
      // The request reaches the server, which runs it; its answer never
      // reaches the tab: the connection is reset instead.
      const response = await route.fetch();
      sends.push({ key, outcome: `ran ${response.status()}, reset` });
      await route.abort('connectionreset');
      return;
    }
    sends.push({ key, outcome: 'passed' });
    await route.continue();
  });

  await tab.send('hello exactly once');
  await tab.expectExchanges(1);
  const [reply] = await tab.texts('assistant');
  expect(reply).toContain('"hello exactly once"');
  expect(reply).toContain('message #1 in this session');

  // The tab sent it twice, with one key; the server ran it once.
  expect(sends).toHaveLength(2);
  expect(sends[0]?.outcome).toBe('ran 200, reset');
  expect(sends[0]?.key).toMatch(/^[0-9a-f-]{36}$/);
  expect(sends[1]?.key).toBe(sends[0]?.key);
  await expect(tab.byTestId('message-count')).toHaveText('1');

  // No duplicate on the server either: the next message is its second.
  await tab.page.unroute('**/trpc/chat.send**');
  await tab.send('and a second one');
  await tab.expectExchanges(2);
  const replies = await tab.texts('assistant');
  expect(replies).toHaveLength(2);
  expect(replies[1]).toContain('message #2 in this session');
  expect(await tab.texts('user')).toEqual(['hello exactly once', 'and a second one']);
  // Nor a reply learnt twice from the session's events.
  await expect(tab.eventMessages('assistant')).toHaveCount(0);
});
