/**
 * When this node last wrote `lastActivity` for each session, kept only as
 * long as it can matter: `isRecent(id, now)` is true while
 * `now - writtenAt < resolutionMs`. Two generations of maps are swapped
 * every `resolutionMs` (lazily, on access; no timer), so memory is bounded by
 * the sessions written in the last two intervals. Times are the callers'
 * `now` values; operations that finish out of order are fine, and a jump
 * back by more than `resolutionMs` drops both generations (which only costs
 * a few extra writes).
 *
 * @example
 * const writes = new RecentWrites(1_000);
 * writes.record(id, now);
 * writes.isRecent(id, now + 999); // true
 * writes.isRecent(id, now + 1_000); // false
 */
export class RecentWrites {
  readonly resolutionMs: number;
  #current = new Map<string, number>();
  #previous = new Map<string, number>();
  /** `now` at which `#current` was started. */
  #startedAt = Number.NEGATIVE_INFINITY;

  constructor(resolutionMs: number) {
    this.resolutionMs = Math.max(0, resolutionMs);
  }

  /** Remembers that `lastActivity` of `sessionId` was set to at least `at`. */
  record(sessionId: string, at: number): void {
    if (this.resolutionMs === 0) return;
    this.#rotate(at);
    const known = this.#current.get(sessionId) ?? this.#previous.get(sessionId);
    if (known !== undefined && known >= at) return;
    this.#previous.delete(sessionId);
    this.#current.set(sessionId, at);
  }

  /** True when this node wrote the session's `lastActivity` less than `resolutionMs` before `now`. */
  isRecent(sessionId: string, now: number): boolean {
    if (this.resolutionMs === 0) return false;
    this.#rotate(now);
    const at = this.#current.get(sessionId) ?? this.#previous.get(sessionId);
    return at !== undefined && now - at < this.resolutionMs;
  }

  /** Drops what is known of the session (deleted, expired). */
  forget(sessionId: string): void {
    this.#current.delete(sessionId);
    this.#previous.delete(sessionId);
  }

  /** Sessions currently remembered (both generations). */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  // Every entry in #current was recorded before #startedAt + resolution (a
  // later time rotates first), every one in #previous before #startedAt. So
  // at #startedAt + resolution nothing in #previous is recent any more and
  // #current becomes #previous; at #startedAt + 2 * resolution, nothing at all.
  #rotate(now: number): void {
    const age = now - this.#startedAt;
    if (age < this.resolutionMs && age > -this.resolutionMs) return;
    this.#previous =
      age >= this.resolutionMs && age < 2 * this.resolutionMs ? this.#current : new Map();
    this.#current = new Map();
    this.#startedAt = now;
  }
}
