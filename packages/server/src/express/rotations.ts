import type { Response } from 'express';
import type { SessionManager, SessionRotatedEvent } from '../manager.js';
import { SESSION_HEADER } from '../protocol.js';

/** A tracked request as `RotationNotices` lists it (links of its own, no allocation). */
export interface InFlightRequest {
  previousInFlight: InFlightRequest | undefined;
  nextInFlight: InFlightRequest | undefined;
  readonly sessionId: string | undefined;
  readonly response: Response;
}

/**
 * The requests in flight on this node, so that the request that rotates its
 * session (`manager.rotateSession`) answers with the new id in its
 * `X-Session-Id` response header. The requests are linked through
 * themselves: adding and removing one is four pointer writes, with no map
 * entry per request, and a rotation (rare: a login) walks the node's
 * requests in flight, which capacity bounds.
 *
 * One per manager (`rotationNoticesOf`), shared by all its middleware.
 */
export class RotationNotices {
  #first: InFlightRequest | undefined = undefined;

  /** Listens to the manager's local rotations; returns the removal. */
  listen(manager: SessionManager): () => void {
    const onRotated = (event: SessionRotatedEvent) => this.#onRotated(event);
    manager.on('rotated', onRotated);
    return () => manager.off('rotated', onRotated);
  }

  add(request: InFlightRequest): void {
    const first = this.#first;
    request.previousInFlight = undefined;
    request.nextInFlight = first;
    if (first !== undefined) first.previousInFlight = request;
    this.#first = request;
  }

  /** Unlinks the request; a request not listed is left alone. */
  remove(request: InFlightRequest): void {
    const { previousInFlight: previous, nextInFlight: next } = request;
    if (previous !== undefined) previous.nextInFlight = next;
    else if (this.#first === request) this.#first = next;
    else return;
    if (next !== undefined) next.previousInFlight = previous;
    request.previousInFlight = undefined;
    request.nextInFlight = undefined;
  }

  #onRotated({ sessionId, newSessionId, origin }: SessionRotatedEvent): void {
    if (origin !== 'local') return;
    for (let request = this.#first; request !== undefined; request = request.nextInFlight) {
      if (request.sessionId !== sessionId) continue;
      const res = request.response;
      if (!res.headersSent) res.setHeader(SESSION_HEADER, newSessionId);
    }
  }
}

/** Each manager's notices; held weakly, so a manager no longer used is freed with them. */
const noticesByManager = new WeakMap<SessionManager, RotationNotices>();

/**
 * The manager's `RotationNotices`, made and listening on first use: every
 * `sessionMiddleware` on one manager lists its requests there, so a manager
 * carries one `'rotated'` listener however many middleware are made for it
 * (a middleware has no end at which it could remove a listener of its own).
 */
export function rotationNoticesOf(manager: SessionManager): RotationNotices {
  let notices = noticesByManager.get(manager);
  if (notices === undefined) {
    notices = new RotationNotices();
    notices.listen(manager);
    noticesByManager.set(manager, notices);
  }
  return notices;
}
