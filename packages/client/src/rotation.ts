import type { FetchLike } from './base-options.js';
import { SESSION_HEADER } from './protocol.js';

/**
 * Tells the client that the server rotated `sentId` to `sessionId`; the
 * client adopts the new id unless it already moved on from `sentId`.
 */
export type RotateSession = (sentId: string, sessionId: string) => void;

/**
 * The id a response names in its `X-Session-Id` header when it differs from
 * the one its request carried: the server rotated the session during that
 * request (`manager.rotateSession`). `undefined` for every other response,
 * including those of requests that carried no session.
 *
 * @example
 * const rotated = rotatedSessionId(sentId, response);
 * if (rotated !== undefined) keeper.rotate(sentId, rotated);
 */
export function rotatedSessionId(
  sentId: string | null | undefined,
  response: Pick<Response, 'headers'>,
): string | undefined {
  if (sentId === undefined || sentId === null || sentId === '') return undefined;
  const named = response.headers?.get(SESSION_HEADER)?.trim();
  return named === undefined || named === '' || named === sentId ? undefined : named;
}

/**
 * Wraps the `fetch` given to tRPC's HTTP links: every response, success or
 * error, whose `X-Session-Id` names another id than its request carried
 * reports a rotation before tRPC reads the body, so the call's caller
 * already sees the new `client.sessionId` when its promise settles.
 */
export function rotationAwareFetch(fetch: FetchLike, rotate: RotateSession): FetchLike {
  return async (input, init) => {
    const response = await fetch(input, init);
    const sentId = sentSessionId(input, init);
    const rotated = rotatedSessionId(sentId, response);
    if (sentId !== undefined && rotated !== undefined) rotate(sentId, rotated);
    return response;
  };
}

/** The session header a request carries, from `init` or else from a `Request` input. */
function sentSessionId(
  input: string | URL | Request,
  init: RequestInit | undefined,
): string | undefined {
  const fromInit =
    init?.headers === undefined ? null : new Headers(init.headers).get(SESSION_HEADER);
  if (fromInit !== null) return fromInit;
  if (typeof input === 'object' && 'headers' in input)
    return input.headers.get(SESSION_HEADER) ?? undefined;
  return undefined;
}
