import type { FetchLike, HttpRetryOptions } from './base-options.js';
import { clientClosedError, plainBodyCode } from './errors.js';
import { SESSION_HEADER } from './protocol.js';
import { CallRetries } from './retry-policy.js';
import { type RotateSession, rotatedSessionId } from './rotation.js';

/** `RequestInit` plus the client's own flag. */
export interface SessionFetchInit extends RequestInit {
  /**
   * The request may be sent again after a 503/429 although its method is not
   * GET or HEAD (e.g. a PUT that sets a value).
   * @default false
   */
  idempotent?: boolean;
}

/** `fetch` with the session header attached; see {@link createSessionFetch}. */
export type SessionFetch = (
  input: string | URL | Request,
  init?: SessionFetchInit,
) => Promise<Response>;

/** What the fetch helper needs from the client. */
export interface SessionFetchDeps {
  fetch: FetchLike;
  /** Base URL that relative inputs resolve against. */
  baseUrl: string;
  options: HttpRetryOptions;
  sessionId: () => string | undefined;
  replaceSession: (sentId: string) => Promise<boolean>;
  /** The server rotated `sentId` (the response's `X-Session-Id` names another id). */
  rotateSession: RotateSession;
  /** Aborted when the client closes: pending waits end. */
  signal: AbortSignal;
}

/**
 * Builds the client's `fetch(input, init)` for plain routes: relative URLs
 * resolve against the server's URL, `X-Session-Id` is attached, 503/429 are
 * retried after `Retry-After` plus jitter for GET, HEAD and requests marked
 * `idempotent`, and a `SESSION_NOT_FOUND` answer replaces the session and
 * sends the request once more. A response whose `X-Session-Id` names another
 * id than the request carried (the server rotated the session) switches the
 * client to that id before it is returned. Other answers, errors included, are returned
 * as they are, like `fetch` does.
 */
export function createSessionFetch(deps: SessionFetchDeps): SessionFetch {
  return async (input, init = {}) => {
    const { idempotent = false, ...requestInit } = init;
    const template = new Request(resolveInput(input, deps.baseUrl), requestInit);
    const retries = new CallRetries({
      options: deps.options,
      replayable: idempotent || template.method === 'GET' || template.method === 'HEAD',
    });
    for (;;) {
      const sentId = deps.sessionId();
      const request = template.clone();
      if (sentId !== undefined) request.headers.set(SESSION_HEADER, sentId);
      let response: Response;
      try {
        response = await deps.fetch(request);
      } catch (error) {
        if (retries.next({ kind: 'failed', error }, sentId).action === 'resend') continue;
        throw error;
      }
      const rotated = rotatedSessionId(sentId, response);
      if (sentId !== undefined && rotated !== undefined) deps.rotateSession(sentId, rotated);
      if (response.ok) return response;
      const decision = retries.next(
        {
          kind: 'answered',
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          errorCode: await bodyErrorCode(response),
        },
        sentId,
      );
      if (decision.action === 'wait') {
        await response.body?.cancel();
        await sleep(decision.delayMs, deps.signal);
      } else if (
        decision.action === 'replace' &&
        (await deps.replaceSession(decision.sessionId).catch(() => false))
      ) {
        await response.body?.cancel();
      } else {
        return response;
      }
    }
  };
}

function resolveInput(input: string | URL | Request, baseUrl: string): string | URL | Request {
  if (typeof input !== 'string') return input;
  return new URL(input, baseUrl).toString();
}

/** The code of a JSON error body (`{"error":{"code"}}`), read from a clone so the caller can still read it. */
async function bodyErrorCode(response: Response): Promise<string | undefined> {
  if (!(response.headers.get('content-type') ?? '').includes('json')) return undefined;
  try {
    return plainBodyCode(await response.clone().json());
  } catch {
    return undefined;
  }
}

/** Waits `ms`, or rejects with `CLIENT_CLOSED` as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(clientClosedError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(clientClosedError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
