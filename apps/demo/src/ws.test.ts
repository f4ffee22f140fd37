import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createDemoServer, type DemoServer } from './app.js';

const running: DemoServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((demo) => demo.close()));
});

/** Polls `check`; the 15 s deadline is generous for what takes milliseconds, even on a busy machine. */
async function waitUntil(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Message {
  id: number | null;
  result?: { type: string; data?: { json: unknown } };
}

/** A socket speaking tRPC's wire protocol (superjson inputs are `{ json }`). */
async function socketFor(port: number, sessionId: string) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/trpc?connectionParams=1`);
  const messages: Message[] = [];
  let code: number | undefined;
  socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as Message));
  socket.on('close', (closeCode) => {
    code = closeCode;
  });
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ method: 'connectionParams', data: { sessionId } }));
  const send = (id: number, method: string, path: string, json: unknown) =>
    socket.send(JSON.stringify({ id, method, params: { path, input: { json } } }));
  return { socket, messages, send, closeCode: () => code };
}

describe('demo over WebSocket', () => {
  test('chat replies reach session.events on every socket of the session; shutdown closes with 1001', async () => {
    const demo = createDemoServer({ log: () => {}, exit: vi.fn() });
    running.push(demo);
    const { port } = await demo.listen(0, '127.0.0.1');
    const { sessionId } = await demo.manager.createSession();
    const tabs = [await socketFor(port, sessionId), await socketFor(port, sessionId)];
    for (const tab of tabs) tab.send(1, 'subscription', 'session.events', undefined);
    type Reply = { data: { type: string; data: { messageCount: number } } };
    const repliesOn = (tab: (typeof tabs)[number]) =>
      tab.messages
        .filter((message) => message.id === 1 && message.result?.type === 'data')
        .map((message) => (message.result!.data!.json as Reply).data);

    const res = await fetch(`http://127.0.0.1:${port}/api/chat`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Session-Id': sessionId },
      body: JSON.stringify({ message: 'hello over http' }),
    });
    expect(res.status).toBe(200);
    const [first] = tabs;
    first?.send(2, 'mutation', 'chat.send', { message: 'hello over ws' });
    await waitUntil(() => tabs.every((tab) => repliesOn(tab).length === 2));
    for (const tab of tabs) {
      expect(repliesOn(tab).map((event) => [event.type, event.data.messageCount])).toEqual([
        ['chat.reply', 1],
        ['chat.reply', 2],
      ]);
    }
    expect(demo.ws.connectionCount).toBe(2);

    await demo.close();
    await waitUntil(() => tabs.every((tab) => tab.closeCode() !== undefined));
    expect(tabs.map((tab) => tab.closeCode())).toEqual([1001, 1001]);
  });
});
