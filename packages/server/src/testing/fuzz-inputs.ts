// Arbitraries of malformed input shared by the HTTP and WebSocket fuzz
// tests: session ids, procedure paths, tRPC inputs (superjson envelopes
// with garbage meta, deep nesting, huge values) and junk text and bytes.
import fc from 'fast-check';

/** Procedures of Morgan's router. */
export const PROCEDURES = [
  'session.create',
  'session.get',
  'session.heartbeat',
  'session.delete',
  'session.metrics',
  'session.events',
] as const;

/** Near misses and names that are not there. */
export const NOT_PROCEDURES = [
  'session',
  'session.',
  '.session.get',
  'session..get',
  'SESSION.GET',
  'session.get.extra',
  'session/get',
  '__proto__',
  'constructor.prototype',
  'session.__proto__',
  'session.constructor',
  'toString',
  'hasOwnProperty',
] as const;

/**
 * Procedure paths, real ones most often. With `victim`, never
 * `session.delete`: a case carrying the victim's id would legitimately end it.
 */
export function procedurePathArb({ victim = false } = {}) {
  const real = PROCEDURES.filter((path) => !victim || path !== 'session.delete');
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...real) },
    { weight: 1, arbitrary: fc.constantFrom(...NOT_PROCEDURES) },
  );
}

/** Text that is not valid JSON, or is JSON of the wrong shape, plus raw unicode. */
export const junkText = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constantFrom(
    '',
    '{',
    '}',
    '[',
    'null',
    'undefined',
    'NaN',
    '1e999',
    '-0',
    '"\\ud800"',
    '{"json":',
    '{"json":{}}}',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '\u0000',
    '\uFEFF{}',
    '{"a":1,"a":2}',
  ),
);

/** Raw bytes, including invalid UTF-8. */
export const junkBytes = fc.oneof(
  fc.uint8Array({ maxLength: 96 }),
  fc.constantFrom(
    Uint8Array.from([0xc3, 0x28]),
    Uint8Array.from([0xff, 0xfe, 0xfd]),
    Uint8Array.from([0xed, 0xa0, 0x80]),
    Uint8Array.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
  ),
);

/** `depth` levels of nesting, closed or left open. */
export const deepJson = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1_000, max: 60_000 })),
    shape: fc.constantFrom('array', 'object', 'mixed'),
    closed: fc.boolean(),
  })
  .map(({ depth, shape, closed }) => {
    const open = shape === 'array' ? '[' : shape === 'object' ? '{"a":' : '{"a":[';
    const close = shape === 'array' ? ']' : shape === 'object' ? '}' : ']}';
    return open.repeat(depth) + (closed ? `1${close.repeat(depth)}` : '');
  });

/** Session ids: a stranger's UUID, near misses, garbage and huge values. */
export function sessionIdArb(victimId: string, { victim = true, maxLength = 12_000 } = {}) {
  const nearMiss = fc
    .tuple(fc.nat(35), fc.constantFrom('g', 'Z', '-', '0', ' ', '\t', 'é'))
    .map(([at, char]) => victimId.slice(0, at) + char + victimId.slice(at + 1));
  const choices = [
    fc.uuid({ version: 4 }),
    fc.uuid(),
    nearMiss,
    fc.constant(victimId.toUpperCase()),
    fc.constant(`${victimId} `),
    fc.constant(`${victimId},${victimId}`),
    fc.constant(victimId.slice(0, 35)),
    fc.constant(`${victimId}0`),
    fc.constant('00000000-0000-0000-0000-000000000000'),
    fc.string({ maxLength: 40 }),
    fc.integer({ min: 1_000, max: maxLength }).map((n) => 'a'.repeat(n)),
  ];
  if (victim) return fc.oneof(fc.constant(victimId), ...choices);
  // HTTP trims a header value's surrounding whitespace: `<victim> ` is the victim.
  return fc.oneof(...choices).filter((id) => id.trim() !== victimId);
}

/** Superjson `meta` annotations that no client would send. */
const superjsonMeta = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({
    values: fc.oneof(
      fc.constantFrom('Date', 'bigint', 'regexp', 'set', 'map', 'undefined', 'number', 'Error'),
      fc.tuple(
        fc.constantFrom('class', 'symbol', 'custom', 'map', 'set', 'Date'),
        fc.string({ maxLength: 12 }),
      ),
      fc.dictionary(
        fc.constantFrom('metadata', 'userId', 'lastEventId', '__proto__', 'constructor', ''),
        fc.oneof(
          fc.constantFrom('Date', 'bigint', 'regexp', 'set', 'map', 'undefined', 'number'),
          fc.tuple(fc.constantFrom('class', 'symbol', 'custom'), fc.string({ maxLength: 8 })),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        { maxKeys: 3 },
      ),
    ),
    referentialEqualities: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
  }),
);

/** What `session.create` and friends take, and what they do not. */
const inputValue = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record(
    {
      userId: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 1 })),
      conversationId: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()),
      metadata: fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.object({ maxDepth: 3 })),
      lastEventId: fc.oneof(fc.string({ maxLength: 40 }), fc.integer()),
      extra: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  ),
);

/**
 * One call's input as text: a superjson envelope (often broken) or raw junk,
 * up to `maxLength` characters (deep nesting is cut there, huge values are
 * made to that size).
 */
export function inputTextArb(maxLength: number) {
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.tuple(inputValue, superjsonMeta).map(envelope) },
      { weight: 1, arbitrary: inputValue.map((value) => JSON.stringify(value)) },
      { weight: 1, arbitrary: deepJson.map((deep) => `{"json":{"metadata":${deep}}}`) },
      { weight: 1, arbitrary: deepJson },
      { weight: 1, arbitrary: junkText },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: Math.min(20_000, maxLength / 2), max: maxLength })
          .map((n) => `{"json":{"metadata":{"x":"${'a'.repeat(n)}"}}}`),
      },
    )
    .map((text) => text.slice(0, maxLength));
}

/** Inputs for bodies and WebSocket messages: up to 1.2 MB, past every default size limit. */
export const inputText = inputTextArb(1_200_000);

function envelope([json, meta]: [unknown, unknown]): string {
  return JSON.stringify(meta === undefined ? { json } : { json, meta });
}

/** Text with no `\n` `\r` or other byte Node refuses in a header value. */
export function headerSafe(text: string): string {
  return text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}
