import {
  type AnyTRPCRouter as AnyRouter,
  getTRPCErrorShape,
  type TRPCError,
  transformTRPCResponse,
} from '@trpc/server';
import type { TRPCResponseMessage } from '@trpc/server/rpc';
import type { Call, RequestId, SubscriptionResult } from './subscription.js';

/** Where an error happened, as the error formatter and `onError` get it. */
export interface ErrorSite {
  type: Call['type'] | 'unknown';
  path: string | undefined;
  input: unknown;
}

/** A message refused before any call of it ran. */
export const PROTOCOL: ErrorSite = { type: 'unknown', path: undefined, input: undefined };

/** An answer of tRPC's WebSocket protocol, before the router's transformer. */
export type Answer = { id: RequestId | null; jsonrpc?: '2.0' | undefined } & (
  | { result: SubscriptionResult | { type: 'stopped' } }
  | { error: unknown }
);

/** The call an answer goes to: its request id (null for a message without one) and where it ran. */
export type Answered = ErrorSite & Pick<Answer, 'id' | 'jsonrpc'>;

/** What a client gets when its error cannot be formatted or encoded (tRPC's fallback shape). */
const fallbackErrorShape = {
  code: -32603,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
} as const;

/** The answer as text, through the router's transformer (`transformTRPCResponse`); throws when it cannot serialise it. */
export function encodeAnswer(router: AnyRouter, answer: Answer): string {
  return JSON.stringify(transformTRPCResponse(router._def._config, answer as TRPCResponseMessage));
}

/** tRPC's fallback error for the call `answer` answers, as text (it never fails to encode). */
export function fallbackAnswer(answer: Answer): string {
  return JSON.stringify({ id: answer.id, jsonrpc: answer.jsonrpc, error: fallbackErrorShape });
}

/**
 * The router's error shape for `error` (`getTRPCErrorShape`, with its error
 * formatter); tRPC's fallback shape when the formatter throws, which goes
 * to `formatterFailed`.
 */
export function errorShape(
  router: AnyRouter,
  error: TRPCError,
  site: ErrorSite,
  ctx: unknown,
  formatterFailed: (cause: unknown) => void,
): unknown {
  try {
    const { path, input, type } = site;
    return getTRPCErrorShape({ config: router._def._config, error, type, path, input, ctx });
  } catch (cause) {
    formatterFailed(cause);
    return fallbackErrorShape;
  }
}
