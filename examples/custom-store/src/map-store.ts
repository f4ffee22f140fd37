import type {
  RotateChanges,
  SessionListing,
  SessionRecord,
  StoreCore,
  StoreSettings,
} from '@morgan/session-server';

/** What one stored session is in the map. */
interface Row extends SessionRecord {
  activeRequests: string[];
}

/**
 * A session store of its own, as a third party would write one for their
 * database: the required core of Morgan's `Store` plus one capability,
 * listing (`list`). Without idempotency records, shared rate limits and
 * cross-node events, the manager falls back to its per-node versions of
 * those and says so once at start-up and in `/health`.
 *
 * The "database" is a `Map`; each operation is one simulated round trip
 * (the answer comes a macrotask later, as a copy, as if it were
 * deserialised), and runs at once on the map when it "arrives", so each is
 * atomic. A real store would keep an index by `lastActivity` so that a
 * sweep costs what it removes; this one scans.
 */
export class MapStore implements StoreCore, SessionListing {
  readonly name = 'map';
  #timeoutMs = 60 * 60_000;
  #requestWindowMs: number | undefined;
  readonly #rows = new Map<string, Row>();

  configure(settings: StoreSettings): void {
    this.#timeoutMs = settings.sessionTimeoutMs;
    this.#requestWindowMs = settings.requestWindowMs;
  }

  create(record: SessionRecord): Promise<void> {
    return roundTrip(() => {
      this.#rows.set(record.sessionId, { ...record, activeRequests: [...record.activeRequests] });
    });
  }

  get(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    return roundTrip(() => this.#live(sessionId, now));
  }

  touch(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    return roundTrip(() => this.#touched(this.#live(sessionId, now), now));
  }

  replaceMetadata(
    sessionId: string,
    metadata: string,
    ifVersion: number,
    now: number,
  ): Promise<SessionRecord | 'conflict' | undefined> {
    return roundTrip(() => {
      const row = this.#live(sessionId, now);
      if (row === undefined) return undefined;
      if (row.metadataVersion !== ifVersion) return 'conflict';
      row.metadata = metadata;
      row.metadataVersion += 1;
      return this.#touched(row, now);
    });
  }

  delete(sessionId: string): Promise<SessionRecord | undefined> {
    return roundTrip(() => {
      const row = this.#rows.get(sessionId);
      this.#rows.delete(sessionId);
      return row;
    });
  }

  rotate(
    sessionId: string,
    newSessionId: string,
    now: number,
    changes: RotateChanges = {},
  ): Promise<SessionRecord | undefined> {
    return roundTrip(() => {
      const old = this.#live(sessionId, now);
      if (old === undefined) return undefined;
      this.#rows.delete(sessionId);
      const row: Row = {
        sessionId: newSessionId,
        userId: changes.userId ?? old.userId,
        conversationId: old.conversationId,
        createdAt: now,
        lastActivity: now,
        metadata: old.metadata,
        metadataVersion: old.metadataVersion,
        connectionCount: 0,
        activeRequests: [],
      };
      this.#rows.set(newSessionId, row);
      return row;
    });
  }

  addRequest(
    sessionId: string,
    requestId: string,
    now: number,
  ): Promise<SessionRecord | undefined> {
    return roundTrip(() => {
      const row = this.#live(sessionId, now);
      if (row === undefined) return undefined;
      row.activeRequests.push(requestId);
      if (this.#requestWindowMs !== undefined) {
        const window = Math.floor(now / this.#requestWindowMs);
        row.requestsInWindow = row.requestWindow === window ? (row.requestsInWindow ?? 0) + 1 : 1;
        row.requestWindow = window;
      }
      return this.#touched(row, now);
    });
  }

  removeRequest(sessionId: string, requestId: string, now: number): Promise<void> {
    return roundTrip(() => {
      const row = this.#rows.get(sessionId);
      const index = row?.activeRequests.indexOf(requestId) ?? -1;
      if (row === undefined || index === -1) return;
      row.activeRequests.splice(index, 1);
      this.#touched(row, now);
    });
  }

  addConnection(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    return roundTrip(() => {
      const row = this.#live(sessionId, now);
      if (row === undefined) return undefined;
      row.connectionCount += 1;
      return this.#touched(row, now);
    });
  }

  removeConnection(sessionId: string, now: number): Promise<void> {
    return roundTrip(() => {
      const row = this.#rows.get(sessionId);
      if (row === undefined || row.connectionCount === 0) return;
      row.connectionCount -= 1;
      this.#touched(row, now);
    });
  }

  listByUser(userId: string, now: number): Promise<SessionRecord[]> {
    return roundTrip(() => this.#liveRows(now).filter((row) => row.userId === userId));
  }

  list(limit: number, now: number): Promise<SessionRecord[]> {
    return roundTrip(() => this.#liveRows(now).slice(0, Math.max(0, limit)));
  }

  sweep(now: number): Promise<SessionRecord[]> {
    return roundTrip(() => {
      const expired = [...this.#rows.values()].filter((row) => this.#expired(row, now));
      for (const row of expired) this.#rows.delete(row.sessionId);
      return expired;
    });
  }

  count(): Promise<number> {
    return roundTrip(() => this.#rows.size);
  }

  ping(): Promise<void> {
    return roundTrip(() => undefined);
  }

  async close(): Promise<void> {}

  #expired(row: Row, now: number): boolean {
    const pinned = row.activeRequests.length > 0 || row.connectionCount > 0;
    return !pinned && now - row.lastActivity > this.#timeoutMs;
  }

  #live(sessionId: string, now: number): Row | undefined {
    const row = this.#rows.get(sessionId);
    return row === undefined || this.#expired(row, now) ? undefined : row;
  }

  /** Live sessions, most recently active first. */
  #liveRows(now: number): Row[] {
    return [...this.#rows.values()]
      .filter((row) => !this.#expired(row, now))
      .sort((a, b) => b.lastActivity - a.lastActivity);
  }

  #touched(row: Row | undefined, now: number): Row | undefined {
    if (row !== undefined && now > row.lastActivity) row.lastActivity = now;
    return row;
  }
}

/** One simulated round trip: `operation` runs on the map a macrotask later; the caller gets a copy. */
async function roundTrip<T>(operation: () => T): Promise<T> {
  await new Promise((resolve) => setImmediate(resolve));
  return structuredClone(operation());
}
