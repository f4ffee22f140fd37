/** Per-session bookkeeping of the sockets on this node. */
interface Entry<T> {
  /** The session's one socket (what nearly every session has), or a set past one. */
  sockets: T | Set<T>;
  /** When a pong or message last wrote `lastActivity`, from `performance.now()`. */
  lastTouchAt: number;
}

/**
 * Which sockets belong to which session, so a deleted or expired session's
 * sockets can be found at once, and how recently each session's activity
 * was written, so touches can be throttled per session.
 */
export class SessionSockets<T> {
  readonly #entries = new Map<string, Entry<T>>();

  add(sessionId: string, socket: T): void {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) {
      this.#entries.set(sessionId, { sockets: socket, lastTouchAt: Number.NEGATIVE_INFINITY });
    } else if (entry.sockets instanceof Set) entry.sockets.add(socket);
    else if (entry.sockets !== socket) entry.sockets = new Set([entry.sockets, socket]);
  }

  remove(sessionId: string, socket: T): void {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) return;
    if (entry.sockets === socket) {
      this.#entries.delete(sessionId);
      return;
    }
    if (!(entry.sockets instanceof Set)) return;
    entry.sockets.delete(socket);
    if (entry.sockets.size === 1) {
      const [only] = entry.sockets;
      if (only !== undefined) entry.sockets = only;
    }
  }

  /** The session's sockets (a copy, safe to close while iterating). */
  of(sessionId: string): T[] {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) return [];
    return entry.sockets instanceof Set ? [...entry.sockets] : [entry.sockets];
  }

  /**
   * True when the session's activity was last written `intervalMs` or more
   * ago; records `now` as the new write time when so.
   */
  dueForTouch(sessionId: string, now: number, intervalMs: number): boolean {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined || now - entry.lastTouchAt < intervalMs) return false;
    entry.lastTouchAt = now;
    return true;
  }
}
