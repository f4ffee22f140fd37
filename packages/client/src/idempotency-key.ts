import type * as Protocol from '@morgan/session-server/protocol';
import type { Operation } from '@trpc/client';

// What the core's links need to carry a key that `idempotencyKeys()`
// (`@morgan/session-client/idempotency`) stamped: the rest is opt-in.

/** HTTP header of a mutation's idempotency key (over WebSocket: `params.idempotencyKey`). */
export const IDEMPOTENCY_HEADER: typeof Protocol.IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** The idempotency key of an operation, when the client stamped one (or the caller gave one). */
export function idempotencyKeyOf(op: Partial<Pick<Operation, 'context'>>): string | undefined {
  const key = op.context?.morganIdempotencyKey;
  return typeof key === 'string' ? key : undefined;
}

/** tRPC's `experimental_encoder` of a WebSocket client. */
export interface ClientSocketEncoder {
  encode(data: unknown): string;
  decode(data: string | ArrayBuffer | Uint8Array): unknown;
}
