// `session.events` served by the WebSocket layer itself (event-subscriptions.ts)
// on a real server, compared message for message with the same procedure
// served at another path (`mirror.events`, which the layer's tRPC handler
// iterates as tRPC's own adapter would, compared with that adapter below):
// same session, same events, same answers.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { type AnyRouter, initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { MemoryEventLog } from '../events/memory-event-log.js';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import type { MorganContext } from '../trpc/context.js';
import { morganErrorData } from '../trpc/errors.js';
import {
  createSessionRouter,
  mergeRouters,
  router,
  sessionEventsProcedure,
  sessionProcedure,
} from '../trpc/index.js';
import { createMorganProcedures } from '../trpc/procedures.js';
import { attachWebSocket } from './attach.js';
import { SessionEventsServer } from './event-subscriptions.js';
import type { AttachWebSocketOptions } from './options.js';
import { servedPlainSocket, trpcAdapterSocket } from './testing/plain-socket.js';
import { closed, connect, stopServerStack, waitUntil } from './testing/ws-server.js';

/** Morgan's router, plus the same `session.events` procedure at a path tRPC serves. */
const mirroredRouter = mergeRouters(
  createSessionRouter(),
  router({ mirror: router({ events: sessionEventsProcedure }) }),
);

async function start<TRouter extends AnyRouter>(
  appRouter: TRouter,
  options: {
    manager?: SessionManagerOptions;
    ws?: Partial<Omit<AttachWebSocketOptions<TRouter>, 'manager' | 'router'>>;
  } = {},
) {
  const manager = new SessionManager(options.manager).start();
  const server = createServer((_req, res) => res.writeHead(404).end());
  const ws = attachWebSocket(server, { manager, router: appRouter, ...options.ws });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => stopServerStack({ ws, server, manager });
  return { manager, ws, url: `ws://127.0.0.1:${port}/trpc`, [Symbol.asyncDispose]: close };
}

/** Every message a socket gets, as text, by the id it answers. */
function record(socket: WebSocket) {
  const byId = new Map<string, string[]>();
  socket.on('message', (data: Buffer) => {
    const text = data.toString();
    const { id } = JSON.parse(text) as { id: unknown };
    const key = JSON.stringify(id ?? null);
    byId.set(key, [...(byId.get(key) ?? []), text]);
  });
  const of = (id: unknown) => byId.get(JSON.stringify(id)) ?? [];
  return {
    of,
    /** Waits for `count` messages answering `id`. */
    async wait(id: unknown, count: number): Promise<string[]> {
      await waitUntil(() => of(id).length >= count);
      return of(id);
    },
  };
}

type Recorder = ReturnType<typeof record>;

/** A socket of `sessionId` subscribing at `path`, and one at the mirror, recorded. */
async function pair(url: string, sessionId: string) {
  const ours = await connect(url, sessionId);
  const theirs = await connect(url, sessionId);
  return {
    ours,
    theirs,
    seenOurs: record(ours),
    seenTheirs: record(theirs),
    /** Sends a message to both, with `session.events` and `mirror.events` as their paths. */
    send(message: unknown) {
      const text = JSON.stringify(message);
      ours.send(text);
      theirs.send(text.replaceAll('"session.events"', '"mirror.events"'));
    },
    /** Sends raw text to both (no path in it). */
    sendRaw(text: string) {
      ours.send(text);
      theirs.send(text);
    },
    close() {
      ours.close();
      theirs.close();
    },
  };
}

/** The mirror's messages as ours would be: its path, and the times of events made on the fly. */
function normalize(messages: string[]): string[] {
  return messages.map((text) =>
    text.replaceAll('"mirror.events"', '"session.events"').replace(/"at":\d+/g, '"at":0'),
  );
}

async function expectSame(
  seenOurs: Recorder,
  seenTheirs: Recorder,
  id: unknown,
  count: number,
): Promise<string[]> {
  const [ours, theirs] = await Promise.all([seenOurs.wait(id, count), seenTheirs.wait(id, count)]);
  expect(normalize(ours)).toEqual(normalize(theirs));
  return ours;
}

function subscription(id: unknown, input: unknown, lastEventId?: unknown) {
  const params: Record<string, unknown> = { path: 'session.events', input };
  if (lastEventId !== undefined) params.lastEventId = lastEventId;
  return { id, method: 'subscription', params };
}

const resultTypes = (messages: string[]) =>
  messages.map((text) => {
    const { result, error } = JSON.parse(text) as {
      result?: { type: string };
      error?: { data?: { errorCode?: string }; json?: { data?: { errorCode?: string } } };
    };
    return result?.type ?? `error:${(error?.json ?? error)?.data?.errorCode}`;
  });

/** A memory log whose replay reads wait while it is closed (`shut()` returns the opener). */
class GatedLog extends MemoryEventLog {
  #gate: Promise<void> | undefined;
  /** Reads waiting at the gate. */
  waiting = 0;
  shut(): () => void {
    let open!: () => void;
    this.#gate = new Promise((resolve) => {
      open = resolve;
    });
    return () => {
      this.#gate = undefined;
      open();
    };
  }
  override async readAfter(sessionId: string, lastEventId?: string) {
    if (this.#gate !== undefined) {
      this.waiting += 1;
      await this.#gate;
      this.waiting -= 1;
    }
    return super.readAfter(sessionId, lastEventId);
  }
}

describe('session.events served by the WebSocket layer', () => {
  it('serves buffered then live events and stops exactly as tRPC does', async () => {
    await using t = await start(mirroredRouter);
    const { sessionId } = await t.manager.createSession();
    const early = await t.manager.publish(sessionId, 'chat.reply', { n: 1 });
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    send(subscription(1, { json: {} }));
    await expectSame(seenOurs, seenTheirs, 1, 2);
    const live = await t.manager.publish(sessionId, 'chat.reply', { n: 2 });
    await expectSame(seenOurs, seenTheirs, 1, 3);
    send({ id: 1, method: 'subscription.stop' });
    const messages = await expectSame(seenOurs, seenTheirs, 1, 4);
    expect(resultTypes(messages)).toEqual(['started', 'data', 'data', 'stopped']);
    const data = JSON.parse(messages[2] as string) as {
      result: { id: string; data: { json: { id: string; data: { data: unknown } } } };
    };
    expect(data.result.id).toBe(live.id);
    expect(data.result.data.json.id).toBe(live.id);
    expect(messages[1]).toContain(early.id);
    close();
  });

  it('resumes after lastEventId (as wsLink sends it, or in the input) with the replay', async () => {
    await using t = await start(mirroredRouter);
    const { sessionId } = await t.manager.createSession();
    const seen = await t.manager.publish(sessionId, 'chat.reply', { n: 1 });
    await t.manager.publish(sessionId, 'chat.reply', { n: 2 });
    await t.manager.publish(sessionId, 'chat.reply', { n: 3 });
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    send(subscription(1, { json: {} }, seen.id));
    send(subscription(2, { json: { lastEventId: seen.id } }));
    // wsLink's superjson input for `undefined` is `{}`.
    send(subscription('three', {}, seen.id));
    for (const id of [1, 2, 'three']) {
      const messages = await expectSame(seenOurs, seenTheirs, id, 3);
      expect(resultTypes(messages)).toEqual(['started', 'data', 'data']);
      expect(messages.join()).not.toContain(`"id":"${seen.id}"`);
    }
    close();
  });

  it('starts with the same gap event when the buffer lost what was missed, or the id is unknown', async () => {
    await using t = await start(mirroredRouter, {
      manager: { eventLog: new MemoryEventLog({ maxEvents: 2 }) },
    });
    const { sessionId } = await t.manager.createSession();
    const seen = await t.manager.publish(sessionId, 'chat.reply', { n: 1 });
    for (let n = 2; n <= 5; n += 1) await t.manager.publish(sessionId, 'chat.reply', { n });
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    send(subscription(1, { json: {} }, seen.id));
    const messages = await expectSame(seenOurs, seenTheirs, 1, 4);
    expect(resultTypes(messages)).toEqual(['started', 'data', 'data', 'data']);
    expect(messages[1]).toContain('"type":"gap"');
    send(subscription(2, { json: {} }, 'not-an-event-id'));
    const unknown = await expectSame(seenOurs, seenTheirs, 2, 4);
    expect(unknown[1]).toContain('"type":"gap"');
    close();
  });

  it('answers garbage with the same stable codes as tRPC, and keeps serving the socket', async () => {
    await using t = await start(mirroredRouter);
    const { sessionId } = await t.manager.createSession();
    const { send, sendRaw, seenOurs, seenTheirs, ours, close } = await pair(t.url, sessionId);
    const bad: [unknown, string][] = [
      [subscription(1, { json: { lastEventId: '' } }), 'INVALID_REQUEST'],
      [subscription(2, { json: { lastEventId: 'x'.repeat(65) } }), 'INVALID_REQUEST'],
      [subscription(3, { json: 'a string' }), 'INVALID_REQUEST'],
      [subscription(4, { json: { lastEventId: 7 } }), 'INVALID_REQUEST'],
      [subscription(5, { json: ['x'] }, 'also-an-id'), 'INVALID_REQUEST'],
    ];
    for (const [message, code] of bad) {
      send(message);
      const { id } = message as { id: number };
      const [answer] = await expectSame(seenOurs, seenTheirs, id, 1);
      expect(answer).toContain(`"errorCode":"${code}"`);
      expect(answer).toContain('"code":"BAD_REQUEST"');
    }
    // What tRPC cannot parse at all, it answers with id null: the layer leaves it to tRPC.
    const unparsable = [
      JSON.stringify(subscription(6, { json: {} }, 42)),
      JSON.stringify({ id: {}, method: 'subscription', params: { path: 'session.events' } }),
      JSON.stringify({ id: 7, method: 'subscription', params: null }),
      JSON.stringify({ id: 8, method: 'subscription', params: { path: 'session.events' } }).slice(
        0,
        -2,
      ),
      '[{"id":9,"method":"subscription","params":{"path":"session.events"}},{"nope":1}]',
      '{"id":null,"method":"subscription","params":{"path":"session.events","input":{"json":{}}}}',
    ];
    for (const [index, text] of unparsable.entries()) {
      sendRaw(text);
      const answers = await expectSame(seenOurs, seenTheirs, null, index + 1);
      expect(answers.at(-1)).toMatch(/"errorCode":"INVALID_REQUEST"/);
    }
    expect(seenOurs.of(9)).toEqual([]);
    ours.send(Buffer.from([1, 2, 3]), { binary: true });
    ours.send('{"id":10,"method":"subscription.stop"}');
    ours.send('[]');
    // Still served.
    send(subscription(11, { json: {} }));
    expect(resultTypes(await expectSame(seenOurs, seenTheirs, 11, 1))).toEqual(['started']);
    expect(ours.readyState).toBe(WebSocket.OPEN);
    close();
  });

  it('refuses a duplicate id, and answers a subscription stopped before it started with stopped only', async () => {
    await using t = await start(mirroredRouter);
    const { sessionId } = await t.manager.createSession();
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    send(subscription(1, { json: {} }));
    await expectSame(seenOurs, seenTheirs, 1, 1);
    send(subscription(1, { json: {} }));
    const messages = await expectSame(seenOurs, seenTheirs, 1, 2);
    expect(messages[1]).toContain('Duplicate id 1');
    // Subscribed and stopped in one batch, as wsLink sends what it queued in one tick.
    send([subscription(2, { json: {} }), { id: 2, method: 'subscription.stop' }]);
    await expectSame(seenOurs, seenTheirs, 2, 1);
    expect(resultTypes(seenOurs.of(2))).toEqual(['stopped']);
    close();
  });

  it('serves its part of a batch and hands the rest to tRPC', async () => {
    await using t = await start(mirroredRouter);
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const seen = record(socket);
    socket.send(
      JSON.stringify([
        subscription(1, { json: {} }),
        { id: 2, method: 'query', params: { path: 'session.get', input: { json: null } } },
        { id: 3, method: 'subscription', params: { path: 'mirror.events', input: { json: {} } } },
      ]),
    );
    await seen.wait(1, 1);
    await seen.wait(3, 1);
    const [get] = await seen.wait(2, 1);
    expect(get).toContain(sessionId);
    socket.send(
      JSON.stringify([
        { id: 1, method: 'subscription.stop' },
        { id: 3, method: 'subscription.stop' },
      ]),
    );
    expect(resultTypes(await seen.wait(1, 2))).toEqual(['started', 'stopped']);
    expect(resultTypes(await seen.wait(3, 2))).toEqual(['started', 'stopped']);
    socket.close();
  });

  it('ends with the same session.rotated notice then stopped on rotation', async () => {
    await using t = await start(mirroredRouter);
    const { sessionId } = await t.manager.createSession();
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    send(subscription(1, { json: {} }));
    await expectSame(seenOurs, seenTheirs, 1, 1);
    const rotated = await t.manager.rotateSession(sessionId);
    const messages = await expectSame(seenOurs, seenTheirs, 1, 3);
    expect(resultTypes(messages)).toEqual(['started', 'data', 'stopped']);
    expect(messages[1]).toContain('"type":"session.rotated"');
    expect(messages[1]).toContain(rotated.sessionId);
    close();
  });

  it('closes with 4404 when the session ends, and releases the log subscription', async () => {
    const eventLog = new MemoryEventLog();
    await using t = await start(mirroredRouter, { manager: { eventLog } });
    const { sessionId } = await t.manager.createSession();
    const { send, seenOurs, seenTheirs, ours, theirs } = await pair(t.url, sessionId);
    send(subscription(1, { json: {} }));
    await expectSame(seenOurs, seenTheirs, 1, 1);
    await waitUntil(() => eventLog.subscriberCount === 2);
    const ended = [closed(ours), closed(theirs)];
    await t.manager.deleteSession(sessionId);
    for (const close of await Promise.all(ended)) expect(close.code).toBe(4404);
    await waitUntil(() => eventLog.subscriberCount === 0);
  });

  it('a socket that closes releases its subscriptions: no listener left on the log', async () => {
    const eventLog = new MemoryEventLog();
    await using t = await start(mirroredRouter, { manager: { eventLog } });
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const seen = record(socket);
    for (const id of [1, 2, 3]) socket.send(JSON.stringify(subscription(id, { json: {} })));
    for (const id of [1, 2, 3]) await seen.wait(id, 1);
    expect(eventLog.subscriberCount).toBe(3);
    socket.terminate();
    await waitUntil(() => eventLog.subscriberCount === 0);
  });

  it('holds to maxSubscriptionsPerSocket with the same RATE_LIMITED answer; a stop frees the slot', async () => {
    await using t = await start(mirroredRouter, { ws: { maxSubscriptionsPerSocket: 1 } });
    const { sessionId } = await t.manager.createSession();
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    send(subscription(1, { json: {} }));
    await expectSame(seenOurs, seenTheirs, 1, 1);
    send(subscription(2, { json: {} }));
    const [refused] = await expectSame(seenOurs, seenTheirs, 2, 1);
    expect(refused).toContain('"errorCode":"RATE_LIMITED"');
    send({ id: 1, method: 'subscription.stop' });
    await expectSame(seenOurs, seenTheirs, 1, 2);
    await waitUntil(async () => {
      const id = 100 + Math.floor(Math.random() * 1e6);
      send(subscription(id, { json: {} }));
      await waitUntil(() => seenOurs.of(id).length > 0);
      return resultTypes(seenOurs.of(id))[0] === 'started';
    });
    close();
  });

  it('answers a failing replay read as tRPC does: an internal error, then stopped', async () => {
    /** An event log whose replay store is down. */
    class FailingLog extends MemoryEventLog {
      override async readAfter(): Promise<never> {
        throw new Error('replay store is down');
      }
    }
    const eventLog = new FailingLog();
    await using t = await start(mirroredRouter, { manager: { eventLog } });
    const { sessionId } = await t.manager.createSession();
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    send(subscription(1, { json: {} }));
    const messages = await expectSame(seenOurs, seenTheirs, 1, 3);
    expect(resultTypes(messages)).toEqual(['started', 'error:INTERNAL_ERROR', 'stopped']);
    expect(messages.join()).not.toContain('replay store is down');
    expect(eventLog.subscriberCount).toBe(0);
    close();
  });

  it('holds live events that come during the replay read and sends each once, in order, as tRPC does', async () => {
    const eventLog = new GatedLog();
    await using t = await start(mirroredRouter, { manager: { eventLog } });
    const { sessionId } = await t.manager.createSession();
    const before = await t.manager.publish(sessionId, 'chat.reply', { n: 0 });
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    const gate = eventLog.shut();
    send(subscription(1, { json: {} }));
    await expectSame(seenOurs, seenTheirs, 1, 1);
    await waitUntil(() => eventLog.waiting === 2);
    // Published while both replays wait: held live, and in the buffer the replay reads.
    const during = [
      await t.manager.publish(sessionId, 'chat.reply', { n: 1 }),
      await t.manager.publish(sessionId, 'chat.reply', { n: 2 }),
    ];
    gate();
    const messages = await expectSame(seenOurs, seenTheirs, 1, 4);
    const ids = messages
      .slice(1)
      .map((text) => (JSON.parse(text) as { result: { id: string } }).result.id);
    expect(ids).toEqual([before, ...during].map((event) => event.id));
    close();
  });

  it('a session rotated during the replay read still gets its events, then the notice', async () => {
    const eventLog = new GatedLog();
    await using t = await start(mirroredRouter, { manager: { eventLog } });
    const { sessionId } = await t.manager.createSession();
    const { send, seenOurs, seenTheirs, close } = await pair(t.url, sessionId);
    const gate = eventLog.shut();
    send(subscription(1, { json: {} }));
    await expectSame(seenOurs, seenTheirs, 1, 1);
    await waitUntil(() => eventLog.waiting === 2);
    await t.manager.publish(sessionId, 'chat.reply', { n: 1 });
    const rotated = await t.manager.rotateSession(sessionId);
    gate();
    const messages = await expectSame(seenOurs, seenTheirs, 1, 4);
    expect(resultTypes(messages)).toEqual(['started', 'data', 'data', 'stopped']);
    expect(messages[2]).toContain(rotated.sessionId);
    close();
  });

  it("serves an app's own tRPC instance (no transformer, its error formatter) as tRPC does", async () => {
    const t = initTRPC.context<MorganContext>().create({
      errorFormatter: ({ shape, error }) => ({
        ...shape,
        data: { ...shape.data, ...morganErrorData(error), app: 'formatted by the app' },
      }),
    });
    const { sessionRouter, sessionEventsProcedure: appEvents } = createMorganProcedures(t);
    const appRouter = t.router({
      session: sessionRouter,
      mirror: t.router({ events: appEvents }),
    });
    expect(SessionEventsServer.for(appRouter, { manager: new SessionManager() })).toBeDefined();
    await using server = await start(appRouter);
    const { sessionId } = await server.manager.createSession();
    await server.manager.publish(sessionId, 'chat.reply', { n: 1 });
    const { send, seenOurs, seenTheirs, close } = await pair(server.url, sessionId);
    send(subscription(1, {}));
    const messages = await expectSame(seenOurs, seenTheirs, 1, 2);
    expect(messages[1]).toContain('"data":{"id":');
    expect(messages[1]).not.toContain('"json"');
    send(subscription(2, { lastEventId: '' }));
    const [refused] = await expectSame(seenOurs, seenTheirs, 2, 1);
    expect(refused).toContain('"app":"formatted by the app"');
    close();
  });

  it('leaves a router whose session.events is not Morgan own to tRPC', async () => {
    const own = router({
      session: router({
        events: sessionProcedure
          .input(z.object({ lastEventId: z.string().nullish() }).optional())
          .subscription(async function* () {
            yield { own: true };
          }),
      }),
    });
    expect(SessionEventsServer.for(own, { manager: new SessionManager() })).toBeUndefined();
    expect(
      SessionEventsServer.for(mirroredRouter, { manager: new SessionManager() }),
    ).toBeDefined();
    await using t = await start(own);
    const { sessionId } = await t.manager.createSession();
    const socket = await connect(t.url, sessionId);
    const seen = record(socket);
    socket.send(JSON.stringify(subscription(1, { json: {} })));
    const messages = await seen.wait(1, 3);
    expect(resultTypes(messages)).toEqual(['started', 'data', 'stopped']);
    expect(messages[1]).toContain('"own":true');
    socket.close();
  });

  it("tRPC's wsLink client (superjson) gets the events and the started/stopped lifecycle", async () => {
    const eventLog = new MemoryEventLog();
    await using t = await start(mirroredRouter, { manager: { eventLog } });
    const { sessionId } = await t.manager.createSession();
    const early = await t.manager.publish(sessionId, 'chat.reply', { n: 1 });
    const wsClient = createWSClient({
      url: t.url,
      connectionParams: () => ({ sessionId }),
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    const client = createTRPCClient<typeof mirroredRouter>({
      links: [wsLink({ client: wsClient, transformer: superjson })],
    });
    const received: { id: string; type: string }[] = [];
    let started = false;
    const subscription = client.session.events.subscribe(undefined, {
      onStarted: () => {
        started = true;
      },
      onData: ({ id, data }) => received.push({ id, type: data.type }),
    });
    await waitUntil(() => received.length === 1);
    expect(started).toBe(true);
    const live = await t.manager.publish(sessionId, 'chat.reply', { n: 2 });
    await waitUntil(() => received.length === 2);
    expect(received).toEqual([
      { id: early.id, type: 'chat.reply' },
      { id: live.id, type: 'chat.reply' },
    ]);
    expect(eventLog.subscriberCount).toBe(1);
    subscription.unsubscribe();
    await waitUntil(() => eventLog.subscriberCount === 0);
    await wsClient.close();
  });
});

describe("Morgan's tRPC handler on any socket-like object", () => {
  it("serves session.events leanly, and the rest as tRPC's own adapter answers it", async () => {
    const manager = new SessionManager().start();
    try {
      const session = await manager.createSession();
      const { socket, connection } = servedPlainSocket(manager, mirroredRouter, session.sessionId);
      const context: MorganContext = { manager, session, transport: 'ws' };
      const channel = trpcAdapterSocket(mirroredRouter, () => context);
      const mirror = {
        id: 2,
        method: 'subscription',
        params: { path: 'mirror.events', input: { json: {} } },
      };
      const get = {
        id: 3,
        method: 'query',
        params: { path: 'session.get', input: { json: null } },
      };
      for (const message of [subscription(1, { json: {} }), mirror, get]) {
        connection.received(JSON.stringify(message));
      }
      for (const message of [mirror, get]) {
        channel.emit('message', Buffer.from(JSON.stringify(message)), false);
      }
      await waitUntil(() => socket.sent.length === 3 && channel.sent.length === 2);
      const event = await manager.publish(session.sessionId, 'chat.reply', { n: 1 });
      await waitUntil(() => socket.sent.length === 5 && channel.sent.length === 3);
      const answers = (sent: string[], id: number) =>
        sent.filter((text) => (JSON.parse(text) as { id: unknown }).id === id);
      // The lean path answers as the iterated one, which answers as tRPC's adapter.
      expect(normalize(answers(socket.sent, 1))).toEqual(
        normalize(answers(socket.sent, 2).map((text) => text.replace('"id":2', '"id":1'))),
      );
      expect(answers(socket.sent, 2)).toEqual(answers(channel.sent, 2));
      expect(answers(socket.sent, 1)[1]).toContain(event.id);
      const sessionOf = (text: string | undefined) =>
        (JSON.parse(text ?? '{}') as { result?: { data?: { json?: { sessionId?: string } } } })
          .result?.data?.json?.sessionId;
      expect(sessionOf(answers(socket.sent, 3)[0])).toBe(session.sessionId);
      expect(sessionOf(answers(channel.sent, 3)[0])).toBe(session.sessionId);
      // The socket's close ends its subscriptions: nothing is sent, nothing stays on the log.
      socket.close();
      connection.closed();
      channel.close();
      await manager.publish(session.sessionId, 'chat.reply', { n: 2 });
      expect(socket.sent.length).toBe(5);
      await waitUntil(() => (manager.events as MemoryEventLog).subscriberCount === 0);
    } finally {
      await manager.stop({ drainTimeoutMs: 0 });
    }
  });
});
