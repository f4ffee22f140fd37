// Morgan's tRPC handler answers tRPC's WebSocket protocol as tRPC's own ws
// adapter does: the same messages go to both, on a router of every kind of
// procedure, and each request id gets the same answers, byte for byte.
import { initTRPC, TRPCError, tracked } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SessionManager } from '../manager.js';
import { servedPlainSocket, trpcAdapterSocket } from './testing/plain-socket.js';
import { waitUntil } from './testing/ws-server.js';

const t = initTRPC.create({ isDev: false });
const appRouter = t.router({
  hello: t.procedure.input(z.string().optional()).query(({ input }) => `hello ${input ?? 'you'}`),
  add: t.procedure.input(z.object({ n: z.number() })).mutation(({ input }) => input.n + 1),
  fails: t.procedure.query(() => {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'not you' });
  }),
  streamed: t.procedure.query(async function* () {
    yield 1;
  }),
  tracked: t.procedure
    .input(z.object({ lastEventId: z.string().nullish() }).optional())
    .subscription(async function* ({ input }) {
      yield tracked('1', { after: input?.lastEventId ?? null });
      yield tracked('2', { n: 2 });
    }),
  plain: t.procedure.subscription(async function* () {
    yield 'a';
    yield 'b';
  }),
  breaks: t.procedure.subscription(async function* () {
    yield 1;
    throw new TRPCError({ code: 'CONFLICT', message: 'midway' });
  }),
  notIterable: t.procedure.subscription(() => 42 as unknown as AsyncIterable<number>),
  observed: t.procedure.subscription(() =>
    observable<number>((emit) => {
      emit.next(1);
      emit.next(2);
      emit.complete();
      return () => {};
    }),
  ),
  forever: t.procedure.subscription(async function* ({ signal }) {
    yield 'first';
    await new Promise((resolve) => signal?.addEventListener('abort', resolve));
  }),
});

/** Answers by request id (`PONG` under its own key). */
function byId(sent: readonly string[]): Map<string, string[]> {
  const answers = new Map<string, string[]>();
  for (const text of sent) {
    const key = text === 'PONG' ? 'PONG' : JSON.stringify((JSON.parse(text) as { id: unknown }).id);
    answers.set(key, [...(answers.get(key) ?? []), text]);
  }
  return answers;
}

const call = (id: unknown, method: string, path: string, extra: object = {}) => ({
  id,
  method,
  params: { path, ...extra },
});

describe("Morgan's tRPC handler, against tRPC's own ws adapter", () => {
  it('answers every kind of call, error and malformed message the same, and reports the same errors', async () => {
    const manager = new SessionManager().start();
    try {
      const { sessionId } = await manager.createSession();
      const reports = { ours: [] as string[], theirs: [] as string[] };
      const report =
        (to: string[]) =>
        ({ error, type, path }: { error: TRPCError; type: string; path: string | undefined }) =>
          to.push(`${type} ${path} ${error.code}`);
      const { socket, connection } = servedPlainSocket(
        manager,
        appRouter,
        sessionId,
        report(reports.ours),
      );
      const reference = trpcAdapterSocket(appRouter, () => ({}), report(reports.theirs));
      const send = (message: unknown) => {
        const text = typeof message === 'string' ? message : JSON.stringify(message);
        connection.received(text);
        reference.emit('message', Buffer.from(text), false);
      };

      send(call(1, 'query', 'hello', { input: 'x' }));
      send({ ...call(2, 'mutation', 'add', { input: { n: 1 } }), jsonrpc: '2.0' });
      send(call(3, 'query', 'fails'));
      send(call(4, 'query', 'streamed'));
      send(call(5, 'subscription', 'tracked', { input: {}, lastEventId: '0' }));
      send(call(6, 'subscription', 'plain'));
      send(call(7, 'subscription', 'breaks'));
      send(call(8, 'subscription', 'notIterable'));
      send(call(9, 'subscription', 'observed'));
      send(call(10, 'query', 'no.such.path'));
      send([call(11, 'query', 'hello'), call(12, 'query', 'hello', { input: 'y' })]);
      send(call(null, 'query', 'hello'));
      send('{not json');
      send('PING');
      send(call(13, 'subscription', 'forever'));
      const ours = () => byId(socket.sent);
      const theirs = () => byId(reference.sent);
      await waitUntil(() => ours().get('13')?.length === 2 && theirs().get('13')?.length === 2);
      send(call(13, 'subscription', 'forever'));
      send({ id: 13, method: 'subscription.stop' });
      await waitUntil(() => ours().get('13')?.length === 4 && theirs().get('13')?.length === 4);
      await waitUntil(() => socket.sent.length === reference.sent.length);

      expect(socket.sent.length).toBe(31);
      expect(ours()).toEqual(theirs());
      expect(reports.ours.sort()).toEqual(reports.theirs.sort());
      expect(reports.ours).toHaveLength(7);
      expect(
        ours()
          .get('13')
          ?.map((text) => JSON.parse(text) as unknown),
      ).toMatchObject([
        { result: { type: 'started' } },
        { result: { type: 'data', data: 'first' } },
        { error: { data: { code: 'BAD_REQUEST' } } },
        { result: { type: 'stopped' } },
      ]);
      connection.closed();
      reference.close();
    } finally {
      await manager.stop({ drainTimeoutMs: 0 });
    }
  });
});
