import { adminState, health, shortSessionId } from '../support/admin-api.js';
import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';

// Scenario 3: the server restarts under open tabs. With the memory store the
// sessions die with the process and every tab moves to a new one; with Redis
// they survive and every tab keeps its own. Either way no reply is lost: a
// message typed during the outage is delivered once the server is back.
for (const store of ['memory', 'redis'] as const) {
  test(`server restart (${store} store): tabs show reconnecting, then connected, and ${
    store === 'redis' ? 'keep' : 'replace'
  } their sessions without losing replies`, async ({ context, resources }) => {
    const env: Record<string, string> = {};
    if (store === 'redis') Object.assign(env, (await resources.redis()).env);
    const demo = await resources.demo({ env });
    const tabs = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        ChatTab.open(context, demo.url, { user: `restart-${i}` }),
      ),
    );
    const before = await Promise.all(tabs.map((tab) => tab.sessionId()));
    for (const [i, tab] of tabs.entries()) await tab.send(`before restart ${i}`);
    for (const tab of tabs) await tab.expectExchanges(1);

    await demo.stop();
    for (const tab of tabs) await tab.expectState('reconnecting');
    // Typed while the server is down: kept and retried until it is back.
    await tabs[0]!.send('sent during the outage');
    await expect(tabs[0]!.messages('user').last()).toHaveAttribute(
      'data-status',
      /pending|retrying/,
    );

    await demo.start();
    for (const tab of tabs) await tab.expectConnected();

    const after = await Promise.all(tabs.map((tab) => tab.sessionId()));
    for (const [i, tab] of tabs.entries()) {
      expect(Number(await tab.byTestId('reconnect-count').textContent())).toBeGreaterThan(0);
      if (store === 'redis') {
        expect(after[i]).toBe(before[i]);
        await expect(tab.replacedBanner).toBeHidden();
      } else {
        expect(after[i]).not.toBe(before[i]);
        await expect(tab.replacedBanner).toBeVisible();
        await expect(tab.replacedBanner).toHaveAttribute('data-previous-session-id', before[i]!);
      }
    }

    // No reply lost: the earlier exchange is still on screen and the message
    // sent during the outage got its reply, exactly once.
    await tabs[0]!.expectExchanges(2);
    const replies = await tabs[0]!.texts('assistant');
    expect(replies[0]).toContain('"before restart 0"');
    expect(replies[1]).toContain('"sent during the outage"');
    // A kept session keeps its conversation: the count goes on (memory: a new session starts at 1).
    expect(replies[1]).toContain(`message #${store === 'redis' ? 2 : 1} in this session`);
    for (const [i, tab] of tabs.entries()) {
      expect((await tab.texts('user'))[0]).toBe(`before restart ${i}`);
    }

    // The server sees exactly the sessions the tabs show now, each with its socket.
    await expect.poll(async () => (await health(demo.url)).activeSessions).toBe(3);
    await expect
      .poll(async () =>
        (await adminState(demo.url)).sessions
          .map((s) => `${s.shortId}:${s.connectionCount}`)
          .sort(),
      )
      .toEqual(after.map((id) => `${shortSessionId(id)}:1`).sort());
  });
}
