import { parseRetryAfter } from './backoff.js';
import {
  ClientErrorCode,
  isStaleConnectionError,
  plainBodyCode,
  SessionClientError,
} from './errors.js';
import { httpRetryDelay, SESSION_HEADER } from './http.js';
import type { FetchLike, HttpRetryOptions } from './options.js';

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
  /** Aborted when the client closes: pending waits end. */
  signal: AbortSignal;
}

/**
 * Builds the client's `fetch(input, init)` for plain routes: relative URLs
 * resolve against the server's URL, `X-Session-Id` is attached, 503/429 are
 * retried after `Retry-After` plus jitter for GET, HEAD and requests marked
 * `idempotent`, and a `SESSION_NOT_FOUND` answer replaces the session and
 * sends the request once more. Other answers, errors included, are returned
 * as they are, like `fetch` does.
 */
export function createSessionFetch(deps: SessionFetchDeps): SessionFetch {
  return async (input, init = {}) => {
    const { idempotent = false, ...requestInit } = init;
    const template = new Request(resolveInput(input, deps.baseUrl), requestInit);
    const replayable = idempotent || template.method === 'GET' || template.method === 'HEAD';
    let replaced = false;
    let resent = false;
    for (let retry = 0; ; ) {
      const sentId = deps.sessionId();
      const request = template.clone();
      if (sentId !== undefined) request.headers.set(SESSION_HEADER, sentId);
      let response: Response;
      try {
        response = await deps.fetch(request);
      } catch (error) {
        // Sent on a keep-alive socket the server closed (e.g. it restarted): once more.
        if (replayable && !resent && isStaleConnectionError(error)) {
          resent = true;
          continue;
        }
        throw error;
      }
      if (deps.options.statuses.includes(response.status) && replayable) {
        const delay = httpRetryDelay(
          retry,
          parseRetryAfter(response.headers.get('retry-after')),
          deps.options,
        );
        if (delay !== undefined) {
          await response.body?.cancel();
          await sleep(delay, deps.signal);
          retry += 1;
          continue;
        }
      }
      if (
        response.status === 404 &&
        sentId !== undefined &&
        !replaced &&
        (await isSessionNotFound(response))
      ) {
        replaced = true;
        if (await deps.replaceSession(sentId).catch(() => false)) {
          await response.body?.cancel();
          continue;
        }
      }
      return response;
    }
  };
}

function resolveInput(input: string | URL | Request, baseUrl: string): string | URL | Request {
  if (typeof input !== 'string') return input;
  return new URL(input, baseUrl).toString();
}

async function isSessionNotFound(response: Response): Promise<boolean> {
  if (!(response.headers.get('content-type') ?? '').includes('json')) return false;
  try {
    return plainBodyCode(await response.clone().json()) === 'SESSION_NOT_FOUND';
  } catch {
    return false;
  }
}

/** Waits `ms`, or rejects with `CLIENT_CLOSED` as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(
        new SessionClientError(ClientErrorCode.CLIENT_CLOSED, 'The session client was closed'),
      );
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(
        new SessionClientError(ClientErrorCode.CLIENT_CLOSED, 'The session client was closed'),
      );
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
