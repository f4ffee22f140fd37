import type { WebSocket } from 'ws';
import { messageIdempotencyKeys } from '../trpc/idempotency.js';

type MessageListener = (data: unknown, isBinary: boolean) => void;

const MARKER = 'idempotencyKey';

/**
 * Runs `connect` (which hands `ws` to tRPC, registering tRPC's `message`
 * listener) and wraps every `message` listener it added, so that tRPC
 * handles each message that carries idempotency keys
 * (`params.idempotencyKey` of its calls, which tRPC's parser ignores)
 * inside `messageIdempotencyKeys`, where Morgan's idempotency middleware
 * reads its call's key by batch position. Messages without the word
 * `idempotencyKey` are passed on as they are, unparsed.
 */
export function withMessageIdempotencyKeys(ws: WebSocket, connect: () => void): void {
  const before = new Set(ws.listeners('message'));
  connect();
  for (const listener of ws.listeners('message') as MessageListener[]) {
    if (before.has(listener)) continue;
    ws.off('message', listener);
    ws.on('message', (data: unknown, isBinary: boolean) => {
      const keys = isBinary ? undefined : keysOf(data);
      if (keys === undefined) listener(data, isBinary);
      else messageIdempotencyKeys.run(keys, () => listener(data, isBinary));
    });
  }
}

/** The `params.idempotencyKey` of each call in a text message, or undefined when none has one. */
function keysOf(data: unknown): unknown[] | undefined {
  if (!Buffer.isBuffer(data) || !data.includes(MARKER)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined; // tRPC answers the parse error
  }
  const calls = Array.isArray(parsed) ? parsed : [parsed];
  const keys = calls.map(
    (call) => (call as { params?: { idempotencyKey?: unknown } } | null)?.params?.idempotencyKey,
  );
  return keys.some((key) => key !== undefined) ? keys : undefined;
}
