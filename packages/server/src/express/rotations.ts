import type { Request } from 'express';
import type { SessionManager, SessionRotatedEvent } from '../manager.js';
import { SESSION_HEADER } from '../protocol.js';

/**
 * The requests in flight on this node per session id, so that the request
 * that rotates its session (`manager.rotateSession`) answers with the new id
 * in its `X-Session-Id` response header. A session has one request in flight
 * most of the time: it is held bare, and only several in a set.
 */
export class RotationNotices {
  readonly #requests = new Map<string, Request | Set<Request>>();

  /** Listens to the manager's local rotations; returns the removal. */
  listen(manager: SessionManager): () => void {
    const onRotated = (event: SessionRotatedEvent) => this.#onRotated(event);
    manager.on('rotated', onRotated);
    return () => manager.off('rotated', onRotated);
  }

  add(sessionId: string, req: Request): void {
    const held = this.#requests.get(sessionId);
    if (held === undefined) this.#requests.set(sessionId, req);
    else if (held instanceof Set) held.add(req);
    else this.#requests.set(sessionId, new Set([held, req]));
  }

  remove(sessionId: string, req: Request): void {
    const held = this.#requests.get(sessionId);
    if (held === req) {
      this.#requests.delete(sessionId);
    } else if (held instanceof Set) {
      held.delete(req);
      if (held.size === 0) this.#requests.delete(sessionId);
    }
  }

  #onRotated({ sessionId, newSessionId, origin }: SessionRotatedEvent): void {
    if (origin !== 'local') return;
    const held = this.#requests.get(sessionId);
    if (held === undefined) return;
    for (const req of held instanceof Set ? held : [held]) {
      const res = req.res;
      if (res !== undefined && !res.headersSent) res.setHeader(SESSION_HEADER, newSessionId);
    }
  }
}
