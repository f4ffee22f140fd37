/** Per-session bookkeeping of the sockets on this node. */
interface Entry<T> {
  readonly sockets: Set<T>;
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
    let entry = this.#entries.get(sessionId);
    if (entry === undefined) {
      entry = { sockets: new Set(), lastTouchAt: Number.NEGATIVE_INFINITY };
      this.#entries.set(sessionId, entry);
    }
    entry.sockets.add(socket);
  }

  remove(sessionId: string, socket: T): void {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) return;
    entry.sockets.delete(socket);
    if (entry.sockets.size === 0) this.#entries.delete(sessionId);
  }

  /** The session's sockets (a copy, safe to close while iterating). */
  of(sessionId: string): T[] {
    const entry = this.#entries.get(sessionId);
    return entry === undefined ? [] : [...entry.sockets];
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
