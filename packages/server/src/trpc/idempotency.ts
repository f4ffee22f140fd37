import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { type AnyTRPCMiddlewareFunction, initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ErrorCode, errorCodeInfo, MorganError, RequestInProgressError } from '../errors.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../protocol.js';
import { BATCHED_KEY, type MorganContext } from './context.js';
import { errorCodeOf, toTRPCError } from './errors.js';

/**
 * Largest outcome of a keyed mutation that is kept (its result serialized
 * with superjson, or its error), in characters. A repeat of a call whose
 * result was larger answers 422 `IDEMPOTENCY_KEY_REUSED` (it ran once; its
 * answer is not kept).
 *
 * @example
 * // Keep keyed results small: answer an id, and let the client read the rest.
 * superjson.stringify(result).length <= MAX_STORED_OUTCOME_CHARS;
 */
export const MAX_STORED_OUTCOME_CHARS = 64 * 1024;

/**
 * The idempotency key of the WebSocket mutation being run: the
 * `params.idempotencyKey` of its call (tRPC's own message parser leaves it
 * out), `undefined` when it sent none. The WebSocket layer
 * (`ws/trpc-handler.ts`) runs each mutation inside it; HTTP calls carry
 * theirs in `ctx.idempotencyKey`.
 */
export const callIdempotencyKey = new AsyncLocalStorage<unknown>();

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** True for 1 to 255 visible ASCII characters. */
export function isIdempotencyKey(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_IDEMPOTENCY_KEY_LENGTH &&
    VISIBLE_ASCII.test(value)
  );
}

/** What a call is, for telling a repeat from another call under the same key: path and input, hashed. */
export function callFingerprint(path: string, rawInput: unknown): string {
  return createHash('sha256')
    .update(path)
    .update('\n')
    .update(superjson.stringify(rawInput ?? null))
    .digest('hex');
}

/** What a middleware's `next()` resolves to (tRPC's public middleware type, not its internals). */
export type MiddlewareResult = Awaited<ReturnType<AnyTRPCMiddlewareFunction>>;
type MiddlewareOkResult = Extract<MiddlewareResult, { ok: true }>;

/** A kept outcome: the result (superjson), a client error, or a result too large to keep. */
type Outcome =
  | { ok: { json: unknown; meta?: unknown } }
  | { error: { trpcCode: TRPCError['code']; errorCode: string; message: string } }
  | { tooLarge: true };

/** The error a repeat of a call that failed answers: the first call's, with its code. */
class ReplayedError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ReplayedError';
    this.code = code;
  }
}

interface IdempotentCall {
  ctx: MorganContext;
  type: string;
  path: string;
  getRawInput: () => Promise<unknown>;
  next: () => Promise<MiddlewareResult>;
}

/**
 * Morgan's idempotency middleware, on every mutation of its procedures. A
 * mutation sent with a key (`Idempotency-Key` over HTTP,
 * `params.idempotencyKey` over WebSocket) by a session runs once per key:
 * - the first call claims the key in the store and runs; its result (or a
 *   4xx error other than 429) is kept for `idempotencyWindowMs`;
 * - a repeat answers the kept outcome, on any node sharing the store;
 * - a repeat while the first still runs answers 409 `REQUEST_IN_PROGRESS`
 *   (`Retry-After: 1`); one with another path or input 422
 *   `IDEMPOTENCY_KEY_REUSED`;
 * - a first call that failed transiently (500, 503, 429) drops its claim, so
 *   a repeat runs afresh.
 * A malformed key answers 400 `INVALID_IDEMPOTENCY_KEY`. Calls without a
 * key, queries, subscriptions and calls without a session just run.
 */
export async function idempotentCall(call: IdempotentCall): Promise<MiddlewareResult> {
  const { ctx, type, next } = call;
  if (type !== 'mutation') return next();
  const key = keyOf(ctx);
  if (key === undefined) return next();
  if (!isIdempotencyKey(key)) {
    const message =
      key === BATCHED_KEY
        ? 'An Idempotency-Key applies to one call: send keyed mutations unbatched'
        : undefined;
    throw toTRPCError(new MorganError(ErrorCode.INVALID_IDEMPOTENCY_KEY, message));
  }
  const session = ctx.session;
  if (session === undefined) return next();
  const { manager } = ctx;
  const fingerprint = callFingerprint(call.path, await call.getRawInput());
  const claim = await manager.claimIdempotencyKey(session.sessionId, key, fingerprint);
  if (claim.state !== 'new') {
    if (claim.fingerprint !== fingerprint) {
      throw toTRPCError(new MorganError(ErrorCode.IDEMPOTENCY_KEY_REUSED));
    }
    if (claim.state === 'pending') throw toTRPCError(new RequestInProgressError(1));
    return await replay(JSON.parse(claim.outcome) as Outcome);
  }
  let result: MiddlewareResult;
  try {
    result = await next();
  } catch (error) {
    // tRPC hands errors to middlewares as results; this is a bug's way out.
    await manager.releaseIdempotencyKey(session.sessionId, key).catch(() => {});
    throw error;
  }
  const outcome = outcomeOf(result);
  if (outcome === undefined) {
    await manager.releaseIdempotencyKey(session.sessionId, key).catch(() => {});
  } else {
    // The call ran: a store that fails now must not turn its answer into an error.
    await manager
      .completeIdempotencyKey(session.sessionId, key, outcome)
      .catch(() => manager.releaseIdempotencyKey(session.sessionId, key))
      .catch(() => {});
  }
  return result;
}

function keyOf(ctx: MorganContext): unknown {
  if (ctx.transport === 'ws') return callIdempotencyKey.getStore();
  return ctx.idempotencyKey;
}

/** The outcome to keep, as text; undefined when the call may run again (a transient failure). */
function outcomeOf(result: MiddlewareResult): string | undefined {
  if (result.ok) {
    return bounded(JSON.stringify({ ok: superjson.serialize(result.data) }));
  }
  const error =
    result.error.cause instanceof MorganError ? toTRPCError(result.error.cause) : result.error;
  const errorCode = errorCodeOf(error);
  const status = errorCodeInfo[errorCode].httpStatus;
  if (status < 400 || status >= 500 || status === 429) return undefined;
  return bounded(
    JSON.stringify({ error: { trpcCode: error.code, errorCode, message: error.message } }),
  );
}

/** The outcome as kept: itself, or a note that it ran but was too large to keep. */
function bounded(text: string): string {
  return text.length <= MAX_STORED_OUTCOME_CHARS ? text : JSON.stringify({ tooLarge: true });
}

async function replay(outcome: Outcome): Promise<MiddlewareResult> {
  if ('ok' in outcome) {
    const data = superjson.deserialize(outcome.ok as Parameters<typeof superjson.deserialize>[0]);
    return { ...(await successShape()), data };
  }
  if ('error' in outcome) {
    const { trpcCode, errorCode, message } = outcome.error;
    throw new TRPCError({ code: trpcCode, message, cause: new ReplayedError(errorCode, message) });
  }
  throw toTRPCError(
    new MorganError(
      ErrorCode.IDEMPOTENCY_KEY_REUSED,
      `This call already ran; its result was larger than ${MAX_STORED_OUTCOME_CHARS} characters and was not kept`,
    ),
  );
}

let successResult: Promise<MiddlewareOkResult> | undefined;

/**
 * A success result of a middleware's `next()`, made by tRPC itself: tRPC
 * has no public constructor for one, and a repeat must answer the kept
 * result without running its procedure again. So a tiny router of our own
 * runs once through tRPC's public API and the result its `next()` gave is
 * kept as the shape to copy (with the kept data put in): whatever fields a
 * tRPC release adds to its results, a replayed one has them too.
 */
function successShape(): Promise<MiddlewareOkResult> {
  successResult ??= (async () => {
    const t = initTRPC.create();
    let result: MiddlewareResult | undefined;
    const probe = t.procedure
      .use(async ({ next }) => {
        result = await next();
        return result;
      })
      .query(() => null);
    await t.createCallerFactory(t.router({ probe }))({}).probe();
    const made = result as MiddlewareResult | undefined;
    if (made === undefined || !made.ok) throw new Error('tRPC gave no middleware result');
    return made;
  })();
  return successResult;
}
