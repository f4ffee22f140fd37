// Fuzzing a real node over WebSocket (seeded, bounded): random first
// messages (connectionParams of every wrong shape, junk text and bytes),
// random tRPC messages on an authenticated socket (bad ids, unknown
// methods and paths, huge ids, deep and huge inputs, batches), and frames
// no client library sends. After every case: the node still answers
// /health, every close code is documented, every reply is JSON with a known
// code, nothing internal failed, and no session, request, stream or socket
// count moved, except for sessions that `session.create` calls made.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  deepJson,
  inputText,
  junkBytes,
  junkText,
  procedurePathArb,
  sessionIdArb,
} from '../testing/fuzz-inputs.js';
import {
  type FuzzServer,
  KNOWN_CLOSE_CODES,
  type NodeCounts,
  startFuzzServer,
} from '../testing/fuzz-server.js';
import {
  anyFrame,
  converse,
  judgeReplies,
  rawCloseCode,
  type WsMessage,
} from '../testing/fuzz-ws.js';
import { rawHandshake } from '../ws/testing/raw-frames.js';

// Fixed for `npm test`; FUZZ_SEED and FUZZ_RUNS explore further by hand.
const SEED = Number(process.env.FUZZ_SEED ?? 42);
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

let t: FuzzServer;
let baseline: NodeCounts;
let wsUrl: string;

beforeAll(async () => {
  t = await startFuzzServer();
  baseline = await t.counts();
  wsUrl = `ws://127.0.0.1:${t.port}/trpc`;
});
afterAll(async () => {
  await t?.close();
});

const text = (value: string): WsMessage => ({ text: value });

/** The first message: connectionParams of every wrong shape, or not connectionParams at all. */
function firstMessageArb(victimId: string) {
  const params = fc.oneof(
    fc.record({ sessionId: sessionIdArb(victimId, { victim: false }) }),
    fc.record({ sessionId: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({ sessionId: fc.constant(victimId), token: junkText, extra: fc.jsonValue() }),
    fc.jsonValue({ maxDepth: 3 }),
    fc.constant(undefined),
  );
  return fc.oneof(
    {
      weight: 4,
      arbitrary: params.map((data) => text(JSON.stringify({ method: 'connectionParams', data }))),
    },
    { weight: 1, arbitrary: junkText.map(text) },
    { weight: 1, arbitrary: junkBytes.map((binary): WsMessage => ({ binary })) },
    { weight: 1, arbitrary: deepJson.map(text) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1_048_577, max: 1_300_000 })
        .map((n) => text(`{"method":"connectionParams","data":{"sessionId":"${'a'.repeat(n)}"}}`)),
    },
  );
}

const idArb = fc.oneof(
  { weight: 6, arbitrary: fc.nat() },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom(-1, 0, 1.5, 1e300, Number.MAX_SAFE_INTEGER + 2, 2 ** 31),
      fc.string({ maxLength: 40 }),
      fc.integer({ min: 1_000, max: 50_000 }).map((n) => '9'.repeat(n)),
      fc.constantFrom(null, true, {}, [], { id: 1 }),
    ),
  },
);

/** Present most of the time, then one of `arb`. */
const mostly = <T>(usual: T, arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 5, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: arb });

/** A tRPC message, mostly well formed, often not quite. */
const trpcMessageArb = fc
  .record(
    {
      id: idArb,
      jsonrpc: mostly<unknown>(undefined, fc.constantFrom('2.0', '1.0', 2)),
      method: fc.oneof(
        {
          weight: 6,
          arbitrary: fc.constantFrom('query', 'mutation', 'subscription', 'subscription.stop'),
        },
        {
          weight: 1,
          arbitrary: fc.oneof(fc.constantFrom('connectionParams', 'reconnect', ''), junkText),
        },
      ),
      params: fc.oneof(
        {
          weight: 6,
          arbitrary: fc.record({
            path: fc.oneof(
              { weight: 6, arbitrary: procedurePathArb({ victim: true }) },
              { weight: 1, arbitrary: fc.oneof(junkText, fc.jsonValue({ maxDepth: 1 })) },
            ),
            // An input made as text (superjson envelopes, deep or huge), spliced in below.
            input: mostly<unknown>('__INPUT__', fc.jsonValue({ maxDepth: 3 })),
            lastEventId: mostly<unknown>(
              undefined,
              fc.oneof(junkText, fc.jsonValue({ maxDepth: 1 })),
            ),
            idempotencyKey: mostly<unknown>(
              undefined,
              fc.oneof(
                fc.uuid(),
                junkText,
                fc.jsonValue({ maxDepth: 1 }),
                fc.constant('x'.repeat(300)),
              ),
            ),
          }),
        },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      ),
    },
    { requiredKeys: ['method'] },
  )
  .chain((message) =>
    fc
      .oneof(
        { weight: 2, arbitrary: fc.constantFrom('{}', '{"json":{}}', '{"json":null}') },
        { weight: 3, arbitrary: inputText },
      )
      .map((input) =>
        JSON.stringify(message).replace('"__INPUT__"', () => (isJson(input) ? input : '{}')),
      ),
  );

function isJson(value: string): boolean {
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

/** What an authenticated socket sends after its connectionParams. */
const followUpArb = fc.oneof(
  { weight: 6, arbitrary: trpcMessageArb.map(text) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.array(trpcMessageArb, { maxLength: 4 }),
        fc
          .integer({ min: 101, max: 110 })
          .map((n) =>
            Array.from({ length: n }, (_, i) =>
              JSON.stringify({ id: i, method: 'query', params: { path: 'session.get' } }),
            ),
          ),
      )
      .map((messages) => text(`[${messages.join(',')}]`)),
  },
  { weight: 1, arbitrary: junkText.map(text) },
  { weight: 1, arbitrary: junkBytes.map((binary): WsMessage => ({ binary })) },
  { weight: 1, arbitrary: deepJson.map(text) },
);

interface WsCase {
  query: string;
  first: WsMessage;
  messages: WsMessage[];
}

function caseArb(victimId: string): fc.Arbitrary<WsCase> {
  const victimParams = text(
    JSON.stringify({ method: 'connectionParams', data: { sessionId: victimId } }),
  );
  return fc.oneof(
    fc.record({
      query: fc.constantFrom(
        '?connectionParams=1',
        '',
        '?connectionParams=0',
        '?connectionParams=%',
      ),
      first: firstMessageArb(victimId),
      messages: fc.array(followUpArb, { maxLength: 3 }),
    }),
    fc.record({
      query: fc.constant('?connectionParams=1'),
      first: fc.constant(victimParams),
      messages: fc.array(followUpArb, { minLength: 1, maxLength: 8 }),
    }),
  );
}

/** Frames no client library sends, after an optional authentication. */
const frameCaseArb = fc.record({
  authenticate: fc.boolean(),
  frames: fc.array(
    fc.record({
      first: fc.oneof(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom(0x81, 0x82, 0x01, 0x80, 0x89, 0x8a, 0x88, 0x09, 0xc1, 0x83, 0x8b),
      ),
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 125 }),
        fc.uint8Array({ minLength: 126, maxLength: 300 }),
      ),
      masked: fc.oneof(
        { weight: 5, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});

async function health(): Promise<void> {
  const res = await fetch(`${t.url}/health`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { status: string }).status).toBe('ok');
}

/** After a case: counts back to the baseline once the sessions `session.create` made are ended. */
async function checkAfter(recorder: ReturnType<FuzzServer['recordCreated']>, sentCreate: boolean) {
  await t.quiesce();
  recorder.stop();
  await t.endSessions(recorder.ids);
  const after = await t.settle(baseline);
  const internal = t.internalErrors.splice(0).map(String);
  return { after, internal, unexpectedCreates: sentCreate ? 0 : recorder.ids.size };
}

function describeMessage(message: WsMessage): string {
  const body =
    'text' in message ? message.text : `binary ${Buffer.from(message.binary).toString('hex')}`;
  return body.length > 300 ? `${body.slice(0, 300)}… (${body.length} chars)` : body;
}

describe('WebSocket fuzz (seeded)', () => {
  test(`${RUNS} random conversations: documented close codes, JSON replies with known codes, node up, counts unchanged`, async () => {
    await fc.assert(
      fc.asyncProperty(caseArb(t.victimId), async (c) => {
        const recorder = t.recordCreated();
        const outcome = await converse(
          wsUrl + c.query,
          [c.first, ...c.messages],
          `sentinel-${randomBytes(4).toString('hex')}`,
        );
        const sentCreate = c.messages.some(
          (message) => 'text' in message && message.text.includes('session.create'),
        );
        const { after, internal, unexpectedCreates } = await checkAfter(recorder, sentCreate);
        const problems = judgeReplies(outcome.replies);
        if (!outcome.opened) problems.push(`upgrade refused (${outcome.refusedStatus})`);
        if (!KNOWN_CLOSE_CODES.has(outcome.closeCode)) {
          problems.push(`close code ${outcome.closeCode} by ${outcome.closedBy}`);
        }
        if (outcome.closedBy === 'none') problems.push('the socket did not close');
        expect(
          { problems, counts: after, internal, unexpectedCreates },
          [
            `query ${c.query}`,
            ...[c.first, ...c.messages].map(describeMessage),
            `-> closed by ${outcome.closedBy} with ${outcome.closeCode}; replies:`,
            ...outcome.replies.map((reply) => reply.slice(0, 300)),
          ].join('\n'),
        ).toEqual({ problems: [], counts: baseline, internal: [], unexpectedCreates: 0 });
        await health();
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 120_000);

  test(`${RUNS / 2} sockets sending raw frames: documented close codes, node up, counts unchanged`, async () => {
    await fc.assert(
      fc.asyncProperty(frameCaseArb, async ({ authenticate, frames }) => {
        const recorder = t.recordCreated();
        const socket = await rawHandshake(t.port);
        if (authenticate) {
          const params = JSON.stringify({
            method: 'connectionParams',
            data: { sessionId: t.victimId },
          });
          socket.write(anyFrame(0x81, Buffer.from(params), true));
        }
        const code = rawCloseCode(socket);
        for (const { first, payload, masked } of frames) {
          socket.write(anyFrame(first, payload, masked));
        }
        // Then a close of our own: a server that took every frame answers it with 1000.
        socket.write(anyFrame(0x88, Buffer.from([0x03, 0xe8]), true));
        const closeCode = await code;
        socket.destroy();
        const { after, internal } = await checkAfter(recorder, false);
        expect(
          {
            closeCode: closeCode === 0 || KNOWN_CLOSE_CODES.has(closeCode),
            counts: after,
            internal,
          },
          `${authenticate ? 'authenticated; ' : ''}frames ${frames
            .map(
              ({ first, payload, masked }) =>
                `${first.toString(16)}${masked ? '' : ' unmasked'} ${Buffer.from(payload).toString('hex').slice(0, 40)}`,
            )
            .join(' | ')} -> ${closeCode}`,
        ).toEqual({ closeCode: true, counts: baseline, internal: [] });
        await health();
      }),
      { seed: SEED, numRuns: RUNS / 2 },
    );
  }, 120_000);
});
