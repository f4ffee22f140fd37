import { adminState, shortSessionId } from '../support/admin-api.js';
import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';

// Scenario 2: where the session id lives decides what a reload, a new tab and
// a second tab get.
test.describe('session persistence across reloads and tabs', () => {
  test('reloading keeps the session; closing and reopening the tab gives a new one', async ({
    context,
    resources,
  }) => {
    const demo = await resources.demo();
    const tab = await ChatTab.open(context, demo.url);
    const first = await tab.sessionId();
    await tab.send('before reload');
    await tab.expectExchanges(1);

    await tab.page.reload();
    await tab.expectConnected();
    expect(await tab.sessionId()).toBe(first);
    await expect(tab.replacedBanner).toBeHidden();
    // The conversation is still there, once: the server replayed its buffered
    // chat.reply event to the reloaded page, which recognised it.
    expect(await tab.texts('user')).toEqual(['before reload']);
    await expect
      .poll(async () => Number(await tab.byTestId('replayed-count').textContent()))
      .toBeGreaterThanOrEqual(1);
    await expect(tab.messages('assistant')).toHaveCount(1);
    await expect(tab.eventMessages('assistant')).toHaveCount(0);
    await tab.send('after reload');
    await tab.expectExchanges(2);
    expect((await tab.texts('assistant'))[1]).toContain('message #2 in this session');

    await tab.page.close();
    const reopened = await ChatTab.open(context, demo.url);
    const second = await reopened.sessionId();
    expect(second).not.toBe(first);
    await expect(reopened.messages('user')).toHaveCount(0);

    // The server knows both sessions; only the open tab holds a socket.
    await expect
      .poll(async () => {
        const rows = (await adminState(demo.url)).sessions;
        return Object.fromEntries(rows.map((r) => [r.shortId, r.connectionCount]));
      })
      .toEqual({ [shortSessionId(first)]: 0, [shortSessionId(second)]: 1 });
  });

  test('localStorage mode shares one session across tabs', async ({ context, resources }) => {
    const demo = await resources.demo();
    const a = await ChatTab.open(context, demo.url, { storage: 'local' });
    const b = await ChatTab.open(context, demo.url, { storage: 'local' });
    const id = await a.sessionId();
    expect(await b.sessionId()).toBe(id);
    await expect(a.byTestId('storage-mode')).toContainText('localStorage');

    await a.send('shared hello');
    await a.expectExchanges(1);
    await b.send('second tab');
    await b.expectExchanges(1);
    // One session, so one count across both tabs.
    expect((await b.texts('assistant'))[0]).toContain('message #2 in this session');
    // Each tab also hears the other's reply on the session's event stream.
    await expect(b.eventMessages('assistant')).toHaveCount(1);
    await expect(b.eventMessages('assistant')).toContainText('"shared hello"');
    await expect(a.eventMessages('assistant')).toHaveCount(1);
    await expect(a.eventMessages('assistant')).toContainText('"second tab"');

    await expect
      .poll(async () =>
        (await adminState(demo.url)).sessions.map((s) => [s.shortId, s.connectionCount]),
      )
      .toEqual([[shortSessionId(id), 2]]);
  });
});
