import { establishedConnections, type NodeProcess } from '@morgan/test-support';
import { adminState, health, shortSessionId } from '../support/admin-api.js';
import { ChatTab } from '../support/chat-tab.js';
import { expect, test } from '../support/fixtures.js';

// Scenario 6: two demo nodes share one Redis behind nginx (round robin, no
// sticky sessions). One node is killed; the tabs whose sockets were on it
// reconnect through nginx to the other node and keep their sessions.

/**
 * Connections a node holds open, read from its process: nginx closes its
 * upstream connection after each plain request, so once the tabs' requests
 * are answered these are the node's WebSockets. A stopped node holds none.
 */
function openSockets(node: NodeProcess): number {
  return node.pid === undefined ? 0 : establishedConnections(node.pid, node.port);
}
test('two nodes behind one Redis: one node killed, its tabs continue on the other', async ({
  context,
  resources,
}) => {
  const redis = await resources.redis();
  const env = redis.env;
  const nodeA = await resources.demo({ env, name: 'node-a' });
  const nodeB = await resources.demo({ env, name: 'node-b' });
  const nginx = await resources.nginx([nodeA, nodeB]);
  const sockets = () => ({ a: openSockets(nodeA), b: openSockets(nodeB) });

  const tabs: ChatTab[] = [];
  for (let i = 0; i < 4; i += 1)
    tabs.push(await ChatTab.open(context, nginx.url, { user: `lb-${i}` }));
  const ids = await Promise.all(tabs.map((tab) => tab.sessionId()));
  expect(new Set(ids).size).toBe(4);
  // The sockets are spread over both nodes.
  await expect.poll(sockets).toEqual({ a: 2, b: 2 });
  for (const [i, tab] of tabs.entries()) await tab.send(`before failover ${i}`);
  for (const tab of tabs) await tab.expectExchanges(1);

  await nodeA.kill();

  // Every socket ends up on node B; every tab is connected with its own session.
  await expect.poll(sockets, { timeout: 15_000 }).toEqual({ a: 0, b: 4 });
  const reconnects: number[] = [];
  for (const [i, tab] of tabs.entries()) {
    await tab.expectConnected();
    expect(await tab.sessionId()).toBe(ids[i]);
    await expect(tab.replacedBanner).toBeHidden();
    reconnects.push(Number(await tab.byTestId('reconnect-count').textContent()));
  }
  // The two tabs that were on node A reconnected; the two on node B never noticed.
  expect(reconnects.filter((n) => n > 0)).toHaveLength(2);

  for (const [i, tab] of tabs.entries()) await tab.send(`after failover ${i}`);
  for (const [i, tab] of tabs.entries()) {
    await tab.expectExchanges(2);
    const reply = (await tab.texts('assistant'))[1];
    expect(reply).toContain(`"after failover ${i}"`);
    // Same session, wherever it is served: the count goes on.
    expect(reply).toContain('message #2 in this session');
  }

  // The event streams resumed on node B from the shared replay buffer: no tab
  // was told that events were lost.
  for (const tab of tabs) await expect(tab.byTestId('gap-count')).toHaveText('0');

  // Node B serves all four sessions from Redis.
  expect((await health(nodeB.url)).store).toBe('redis');
  await expect.poll(async () => (await health(nodeB.url)).activeSessions).toBe(4);
  const state = await adminState(nodeB.url);
  expect(state.listError).toBeNull();
  expect(state.sessions.map((s) => s.shortId).sort()).toEqual(ids.map(shortSessionId).sort());
});
