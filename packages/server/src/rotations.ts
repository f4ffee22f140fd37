/** How long a node remembers a rotation, in ms: streams and sockets follow it within this time. */
export const ROTATION_MEMORY_MS = 60_000;
/** Most rotations remembered at once; the oldest are forgotten first. */
export const MAX_REMEMBERED_ROTATIONS = 10_000;

/**
 * Rotations this node saw recently (old id → new id), in arrival order, so
 * forgetting the expired ones costs the number forgotten. Bounded in time
 * and in count: a flood of rotations cannot grow it without limit.
 */
export class RecentRotations {
  readonly #byOldId = new Map<string, { newSessionId: string; at: number }>();

  remember(sessionId: string, newSessionId: string, now: number): void {
    this.#forget(now);
    this.#byOldId.delete(sessionId);
    this.#byOldId.set(sessionId, { newSessionId, at: now });
    if (this.#byOldId.size > MAX_REMEMBERED_ROTATIONS) {
      const oldest = this.#byOldId.keys().next();
      if (!oldest.done) this.#byOldId.delete(oldest.value);
    }
  }

  /** The id that replaced `sessionId` less than `ROTATION_MEMORY_MS` before `now`. */
  get(sessionId: string, now: number): string | undefined {
    const rotation = this.#byOldId.get(sessionId);
    return rotation !== undefined && now - rotation.at <= ROTATION_MEMORY_MS
      ? rotation.newSessionId
      : undefined;
  }

  get size(): number {
    return this.#byOldId.size;
  }

  #forget(now: number): void {
    for (const [id, { at }] of this.#byOldId) {
      if (now - at <= ROTATION_MEMORY_MS) return;
      this.#byOldId.delete(id);
    }
  }
}
