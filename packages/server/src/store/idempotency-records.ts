import type { IdempotencyClaim } from './store.js';

/** Bounds of the idempotency records `MemoryStore` keeps per session. */
export const memoryIdempotencyLimits = {
  /** Keys kept per session; past it the oldest record is dropped. */
  maxKeysPerSession: 1_000,
  /** Characters (keys, fingerprints and outcomes) kept per session; past it the oldest records are dropped. */
  maxCharsPerSession: 1024 * 1024,
} as const;

/** Default `idempotencyWindowMs` of stores that are not configured with one. */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 5 * 60 * 1000;

interface KeyRecord {
  readonly fingerprint: string;
  outcome: string | undefined;
  expiresAt: number;
  readonly chars: number;
}

interface SessionKeys {
  /** In order of expiry: a claim or a completion (re)inserts at the end. */
  readonly records: Map<string, KeyRecord>;
  chars: number;
}

/**
 * The idempotency keys of `MemoryStore`'s sessions. Nothing is allocated
 * for a session until it claims its first key; its records go with it
 * (`drop`), and each expires `windowMs` after its claim or completion.
 * Records of a session are kept in order of expiry, so expired ones are
 * dropped from the front at the session's next claim, and a session's
 * records are bounded in number and size ({@link memoryIdempotencyLimits}):
 * the oldest go first.
 */
export class IdempotencyRecords {
  windowMs = DEFAULT_IDEMPOTENCY_WINDOW_MS;
  readonly #bySession = new Map<string, SessionKeys>();

  /** Sessions holding at least one record (for tests of the bounds). */
  get sessionCount(): number {
    return this.#bySession.size;
  }

  /** Records a session holds, expired ones included until its next claim. */
  keyCount(sessionId: string): number {
    return this.#bySession.get(sessionId)?.records.size ?? 0;
  }

  claim(sessionId: string, key: string, fingerprint: string, now: number): IdempotencyClaim {
    let keys = this.#bySession.get(sessionId);
    if (keys !== undefined) {
      this.#dropExpired(keys, now);
      const found = keys.records.get(key);
      if (found !== undefined) {
        return found.outcome === undefined
          ? { state: 'pending', fingerprint: found.fingerprint }
          : { state: 'done', fingerprint: found.fingerprint, outcome: found.outcome };
      }
    } else {
      keys = { records: new Map(), chars: 0 };
      this.#bySession.set(sessionId, keys);
    }
    const record: KeyRecord = {
      fingerprint,
      outcome: undefined,
      expiresAt: now + this.windowMs,
      chars: key.length + fingerprint.length,
    };
    this.#insert(keys, key, record);
    return { state: 'new' };
  }

  complete(sessionId: string, key: string, outcome: string, now: number): void {
    const keys = this.#bySession.get(sessionId);
    const found = keys?.records.get(key);
    if (keys === undefined || found === undefined) return;
    this.#delete(keys, key, found);
    this.#insert(keys, key, {
      fingerprint: found.fingerprint,
      outcome,
      expiresAt: now + this.windowMs,
      chars: found.chars + outcome.length,
    });
  }

  release(sessionId: string, key: string): void {
    const keys = this.#bySession.get(sessionId);
    const found = keys?.records.get(key);
    if (keys === undefined || found === undefined || found.outcome !== undefined) return;
    this.#delete(keys, key, found);
    if (keys.records.size === 0) this.#bySession.delete(sessionId);
  }

  /** Forgets every record of a session (it ended). */
  drop(sessionId: string): void {
    this.#bySession.delete(sessionId);
  }

  /**
   * Drops every expired record, and the sessions left without one: for a
   * keeper that is not told when sessions end. Costs time in proportion to
   * the sessions holding records.
   */
  sweep(now: number): void {
    for (const [sessionId, keys] of this.#bySession) {
      this.#dropExpired(keys, now);
      if (keys.records.size === 0) this.#bySession.delete(sessionId);
    }
  }

  #insert(keys: SessionKeys, key: string, record: KeyRecord): void {
    keys.records.set(key, record);
    keys.chars += record.chars;
    const { maxKeysPerSession, maxCharsPerSession } = memoryIdempotencyLimits;
    for (const [oldest, old] of keys.records) {
      if (keys.records.size <= maxKeysPerSession && keys.chars <= maxCharsPerSession) break;
      if (oldest === key) break;
      this.#delete(keys, oldest, old);
    }
  }

  #delete(keys: SessionKeys, key: string, record: KeyRecord): void {
    keys.records.delete(key);
    keys.chars -= record.chars;
  }

  #dropExpired(keys: SessionKeys, now: number): void {
    for (const [key, record] of keys.records) {
      if (record.expiresAt > now) return;
      this.#delete(keys, key, record);
    }
  }
}
