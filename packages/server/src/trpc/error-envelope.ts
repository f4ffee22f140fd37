import {
  type AnyTRPCRouter,
  getTRPCErrorShape,
  type TRPCProcedureType,
  transformTRPCResponse,
} from '@trpc/server';
import type { MorganError } from '../errors.js';
import { toTRPCError } from './errors.js';

/**
 * tRPC's error envelope for a Morgan error answered before tRPC handles a
 * request (a refused batch, a refused creation): `{ error }` as the
 * router's error formatter and transformer make it, through tRPC's public
 * `getTRPCErrorShape` and `transformTRPCResponse`. Undefined when the app's
 * formatter cannot make one without a context.
 *
 * @example
 * const text = errorEnvelope(router, new MorganError(ErrorCode.INVALID_REQUEST), 'unknown');
 */
export function errorEnvelope(
  router: AnyTRPCRouter,
  error: MorganError,
  type: TRPCProcedureType | 'unknown',
  path?: string,
): { error: unknown } | undefined {
  const config = router._def._config;
  try {
    const shape = getTRPCErrorShape({
      config,
      error: toTRPCError(error),
      type,
      path,
      input: undefined,
      ctx: undefined,
    });
    return transformTRPCResponse(config, { error: shape }) as { error: unknown };
  } catch {
    // An app's error formatter that needs a context.
    return undefined;
  }
}

/** The error a batch of `calls` calls over a limit of `max` gets (400 `INVALID_REQUEST`). */
export function batchTooLargeMessage(max: number): string {
  return `A batch may hold at most ${max} calls`;
}
