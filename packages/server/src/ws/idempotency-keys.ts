import type { WebSocket } from 'ws';
import { messageIdempotencyKeys } from '../trpc/idempotency.js';

type MessageListener = (data: unknown, isBinary: boolean) => void;

const MARKER = 'idempotencyKey';
/** `[` as the first byte of a text message: a batch. */
const OPEN_BRACKET = 0x5b;

/** What to do with a batch over the limit: `answer` gets the number of calls and sends the refusal. */
export interface BatchLimit {
  maxBatchSize: number;
  answer(socket: Pick<WebSocket, 'send'>, calls: number): void;
}

/**
 * Runs `connect` (which hands `ws` to tRPC, registering tRPC's `message`
 * listener) and wraps every `message` listener it added, so that tRPC
 * handles each message that carries idempotency keys
 * (`params.idempotencyKey` of its calls, which tRPC's parser ignores)
 * inside `messageIdempotencyKeys`, where Morgan's idempotency middleware
 * reads its call's key by batch position, and never sees a batch of more
 * than `limit.maxBatchSize` calls (answered by `limit.answer`, none run),
 * whatever the installed tRPC's own batch limit. Other messages are passed
 * on as they are, unparsed.
 */
export function withMessageIdempotencyKeys(
  ws: WebSocket,
  connect: () => void,
  limit?: BatchLimit,
): void {
  const before = new Set(ws.listeners('message'));
  connect();
  for (const listener of ws.listeners('message') as MessageListener[]) {
    if (before.has(listener)) continue;
    ws.off('message', listener);
    ws.on('message', (data: unknown, isBinary: boolean) => {
      const parsed = isBinary ? undefined : parseIfNeeded(data);
      if (parsed === undefined) {
        listener(data, isBinary);
        return;
      }
      const calls = Array.isArray(parsed) ? parsed : [parsed];
      if (limit !== undefined && calls.length > limit.maxBatchSize) {
        limit.answer(ws, calls.length);
        return;
      }
      const keys = keysOf(calls);
      if (keys === undefined) listener(data, isBinary);
      else messageIdempotencyKeys.run(keys, () => listener(data, isBinary));
    });
  }
}

/**
 * The message parsed when it may matter here (it is a batch, or it names
 * an idempotency key); undefined otherwise, or when it does not parse
 * (tRPC answers the parse error).
 */
function parseIfNeeded(data: unknown): unknown {
  if (!Buffer.isBuffer(data)) return undefined;
  if (data[firstNonSpace(data)] !== OPEN_BRACKET && !data.includes(MARKER)) return undefined;
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
}

function firstNonSpace(data: Buffer): number {
  let at = 0;
  while (
    at < data.length &&
    (data[at] === 0x20 || data[at] === 0x0a || data[at] === 0x0d || data[at] === 0x09)
  ) {
    at += 1;
  }
  return at;
}

/** The `params.idempotencyKey` of each call, or undefined when none has one. */
function keysOf(calls: readonly unknown[]): unknown[] | undefined {
  const keys = calls.map(
    (call) => (call as { params?: { idempotencyKey?: unknown } } | null)?.params?.idempotencyKey,
  );
  return keys.some((key) => key !== undefined) ? keys : undefined;
}
