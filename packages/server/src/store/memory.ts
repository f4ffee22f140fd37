import { memoryRateLimiter, type RateLimiter, type RateLimitPolicy } from '../rate-limit.js';
import { isPinned, type SessionRecord } from '../session.js';
import { DEFAULT_IDEMPOTENCY_WINDOW_MS, IdempotencyRecords } from './idempotency-records.js';
import type { IdempotencyClaim, RotateChanges, Store, StoreEvent, StoreSettings } from './store.js';

const NO_OP = () => {};
const NO_REQUESTS: readonly string[] = Object.freeze([]);
const DEFAULT_TIMEOUT_MS = 60 * 60 * 1000;

interface MemoryRecord extends SessionRecord {
  activeRequests: string[] | readonly string[];
}

/**
 * The embedded store: all sessions in this process.
 *
 * Two maps hold the records: `#sessions` by id, and `#idle`, the unpinned
 * sessions in order of `lastActivity` (a touch moves a session to the end).
 * A sweep walks `#idle` from the oldest and stops at the first session that
 * is still fresh, so its cost is the number of sessions it removes.
 *
 * @example
 * const manager = new SessionManager({ store: new MemoryStore() });
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  #timeoutMs = DEFAULT_TIMEOUT_MS;
  #requestWindowMs: number | undefined;
  readonly #sessions = new Map<string, MemoryRecord>();
  readonly #idle = new Map<string, MemoryRecord>();
  readonly #byUser = new Map<string, Set<string>>();
  /** Idempotency keys, apart from the records: sessions that never use one cost nothing. */
  readonly #keys = new IdempotencyRecords();

  configure(settings: StoreSettings): void {
    this.#timeoutMs = settings.sessionTimeoutMs;
    this.#requestWindowMs = settings.requestWindowMs;
    this.#keys.windowMs = settings.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS;
  }

  async create(record: SessionRecord): Promise<void> {
    // Every record has the same fields in the same order (one hidden class,
    // properties in the object: a spread with added fields made V8 keep them
    // in a dictionary, 2.6x the heap, bench P3); the window ones stay
    // undefined until the session's first counted request.
    const stored: MemoryRecord = {
      sessionId: record.sessionId,
      userId: record.userId,
      conversationId: record.conversationId,
      createdAt: record.createdAt,
      lastActivity: record.lastActivity,
      metadata: record.metadata,
      metadataVersion: record.metadataVersion,
      connectionCount: record.connectionCount,
      activeRequests: NO_REQUESTS,
      requestWindow: undefined,
      requestsInWindow: undefined,
    };
    if (record.activeRequests.length > 0) stored.activeRequests = [...record.activeRequests];
    this.#sessions.set(record.sessionId, stored);
    if (!isPinned(stored)) this.#idle.set(record.sessionId, stored);
    if (record.userId !== undefined) {
      let ids = this.#byUser.get(record.userId);
      if (ids === undefined) {
        ids = new Set();
        this.#byUser.set(record.userId, ids);
      }
      ids.add(record.sessionId);
    }
  }

  async get(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    return this.#live(sessionId, now);
  }

  async touch(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    const record = this.#live(sessionId, now);
    if (record === undefined) return undefined;
    this.#markActive(record, now);
    return record;
  }

  async replaceMetadata(
    sessionId: string,
    metadata: string,
    ifVersion: number,
    now: number,
  ): Promise<SessionRecord | 'conflict' | undefined> {
    const record = this.#live(sessionId, now);
    if (record === undefined) return undefined;
    if (record.metadataVersion !== ifVersion) return 'conflict';
    record.metadata = metadata;
    record.metadataVersion = ifVersion + 1;
    this.#markActive(record, now);
    return record;
  }

  async delete(sessionId: string): Promise<SessionRecord | undefined> {
    const record = this.#sessions.get(sessionId);
    if (record === undefined) return undefined;
    this.#remove(record);
    return record;
  }

  async rotate(
    sessionId: string,
    newSessionId: string,
    now: number,
    changes: RotateChanges = {},
  ): Promise<SessionRecord | undefined> {
    const old = this.#live(sessionId, now);
    if (old === undefined) return undefined;
    this.#remove(old);
    const record: SessionRecord = {
      sessionId: newSessionId,
      userId: changes.userId ?? old.userId,
      conversationId: old.conversationId,
      createdAt: now,
      lastActivity: now,
      metadata: old.metadata,
      metadataVersion: old.metadataVersion,
      connectionCount: 0,
      activeRequests: NO_REQUESTS,
    };
    await this.create(record);
    return this.#sessions.get(newSessionId);
  }

  async addRequest(
    sessionId: string,
    requestId: string,
    now: number,
  ): Promise<SessionRecord | undefined> {
    return this.addRequestSync(sessionId, requestId, now);
  }

  async removeRequest(sessionId: string, requestId: string, now: number): Promise<void> {
    this.removeRequestSync(sessionId, requestId, now);
  }

  addRequestSync(sessionId: string, requestId: string, now: number): SessionRecord | undefined {
    const record = this.#live(sessionId, now);
    if (record === undefined) return undefined;
    if (record.activeRequests.length === 0) {
      record.activeRequests = [requestId];
    } else {
      (record.activeRequests as string[]).push(requestId);
    }
    const windowMs = this.#requestWindowMs;
    if (windowMs !== undefined) {
      const window = Math.floor(now / windowMs);
      if (record.requestWindow === window)
        record.requestsInWindow = (record.requestsInWindow ?? 0) + 1;
      else {
        record.requestWindow = window;
        record.requestsInWindow = 1;
      }
    }
    this.#markActive(record, now);
    return record;
  }

  removeRequestSync(sessionId: string, requestId: string, now: number): void {
    const record = this.#sessions.get(sessionId);
    if (record === undefined) return;
    const requests = record.activeRequests as string[];
    const index = requests.indexOf(requestId);
    if (index === -1) return;
    if (requests.length === 1) record.activeRequests = NO_REQUESTS;
    else requests.splice(index, 1);
    this.#markActive(record, now);
  }

  async addConnection(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    const record = this.#live(sessionId, now);
    if (record === undefined) return undefined;
    record.connectionCount += 1;
    this.#markActive(record, now);
    return record;
  }

  async removeConnection(sessionId: string, now: number): Promise<void> {
    const record = this.#sessions.get(sessionId);
    if (record === undefined || record.connectionCount === 0) return;
    record.connectionCount -= 1;
    this.#markActive(record, now);
  }

  async claimIdempotencyKey(
    sessionId: string,
    key: string,
    fingerprint: string,
    now: number,
  ): Promise<IdempotencyClaim> {
    if (this.#live(sessionId, now) === undefined) return { state: 'new' };
    return this.#keys.claim(sessionId, key, fingerprint, now);
  }

  async completeIdempotencyKey(
    sessionId: string,
    key: string,
    outcome: string,
    now: number,
  ): Promise<void> {
    this.#keys.complete(sessionId, key, outcome, now);
  }

  async releaseIdempotencyKey(sessionId: string, key: string): Promise<void> {
    this.#keys.release(sessionId, key);
  }

  /** Sessions holding idempotency records (for tests of the bounds). */
  get idempotencySessionCount(): number {
    return this.#keys.sessionCount;
  }

  /** Idempotency records one session holds (for tests of the bounds). */
  idempotencyKeyCount(sessionId: string): number {
    return this.#keys.keyCount(sessionId);
  }

  async listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    const ids = this.#byUser.get(userId);
    if (ids === undefined) return [];
    const records: SessionRecord[] = [];
    for (const id of ids) {
      const record = this.#live(id, now);
      if (record !== undefined) records.push(record);
    }
    return records.sort((a, b) => b.lastActivity - a.lastActivity);
  }

  async list(limit: number, now: number): Promise<SessionRecord[]> {
    const records: SessionRecord[] = [];
    for (const record of this.#sessions.values()) {
      if (this.#live(record.sessionId, now) !== undefined) records.push(record);
    }
    records.sort((a, b) => b.lastActivity - a.lastActivity);
    return records.slice(0, Math.max(0, limit));
  }

  async sweep(now: number): Promise<SessionRecord[]> {
    const removed: SessionRecord[] = [];
    const cutoff = now - this.#timeoutMs;
    for (const record of this.#idle.values()) {
      if (record.lastActivity >= cutoff) break;
      this.#remove(record);
      removed.push(record);
    }
    return removed;
  }

  async count(): Promise<number> {
    return this.#sessions.size;
  }

  async ping(): Promise<void> {}

  /** This process's limiter: the sessions live here too, so its count is exact. */
  rateLimiter(name: string, policy: RateLimitPolicy): RateLimiter {
    return memoryRateLimiter(name, policy);
  }

  /** No other node shares these sessions: there is never an event to deliver. */
  subscribe(_listener: (event: StoreEvent) => void): () => void {
    return NO_OP;
  }

  async close(): Promise<void> {}

  #live(sessionId: string, now: number): MemoryRecord | undefined {
    const record = this.#sessions.get(sessionId);
    if (record === undefined) return undefined;
    if (!isPinned(record) && now - record.lastActivity > this.#timeoutMs) return undefined;
    return record;
  }

  /** Touches and keeps `#idle` ordered: pinned records leave it, idle ones go last. */
  #markActive(record: MemoryRecord, now: number): void {
    if (now > record.lastActivity) record.lastActivity = now;
    this.#idle.delete(record.sessionId);
    if (!isPinned(record)) this.#idle.set(record.sessionId, record);
  }

  #remove(record: MemoryRecord): void {
    this.#sessions.delete(record.sessionId);
    this.#keys.drop(record.sessionId);
    this.#idle.delete(record.sessionId);
    if (record.userId === undefined) return;
    const ids = this.#byUser.get(record.userId);
    ids?.delete(record.sessionId);
    if (ids?.size === 0) this.#byUser.delete(record.userId);
  }
}
