import { randomUUID } from 'node:crypto';
import type { JsonObject, Session } from './protocol.js';

export type { Session } from './protocol.js';

/**
 * The stored form of a session. Stores keep these; the manager turns them
 * into `Session` snapshots. Times are epoch milliseconds, metadata is its JSON
 * text, so a record is compact and copying one out is cheap.
 */
export interface SessionRecord {
  sessionId: string;
  userId: string | undefined;
  conversationId: string | undefined;
  createdAt: number;
  lastActivity: number;
  /** JSON text of the metadata object. */
  metadata: string;
  /** 1 at creation, one more at each metadata update. */
  metadataVersion: number;
  connectionCount: number;
  /** Request ids in flight; empty for an idle session. */
  activeRequests: readonly string[];
  /**
   * Set by `addRequest` when the store counts requests per session
   * (`StoreSettings.requestWindowMs`): the fixed window of this request,
   * `floor(now / requestWindowMs)`, and the session's requests in it, this one included.
   */
  requestWindow?: number | undefined;
  /** See `requestWindow`. */
  requestsInWindow?: number | undefined;
}

export type { CreateSessionInput } from './protocol.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * A new session id: a UUID v4 from `crypto.randomUUID()`, made compact.
 * Node builds that string by concatenating pieces, which V8 keeps as a tree
 * of about 15 strings (some 480 bytes per id, measured by bench P3). Reading
 * a character makes V8 flatten it into one 56-byte string; the next GC frees
 * the pieces. Sessions live long, so this halves the heap an idle one holds.
 * With `sameShardAs`, the new id starts with the same hex digit as that one.
 */
export function newSessionId(sameShardAs?: string): string {
  const id = randomUUID();
  if (id.charCodeAt(8) !== 0x2d) throw new Error(`crypto.randomUUID() returned ${id}`);
  const first = sameShardAs?.[0]?.toLowerCase();
  if (first === undefined || !HEX_DIGIT.test(first)) return id;
  // A rotated id keeps the first hex digit of the one it replaces: stores
  // may shard by it (the Redis store does, so a rotation stays in one hash
  // slot of a cluster). The other 118 random bits are fresh.
  return `${first}${id.slice(1)}`;
}

const HEX_DIGIT = /^[0-9a-f]$/;

/** True when `value` has the shape of a session id (a UUID). */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && value.length === 36 && UUID_PATTERN.test(value);
}

/** A record is pinned while it has requests in flight or open connections. */
export function isPinned(record: SessionRecord): boolean {
  return record.activeRequests.length > 0 || record.connectionCount > 0;
}

/**
 * Builds the caller's snapshot of a stored record. Its fields are written
 * in one literal per shape (with or without `userId`, `conversationId`), so
 * a snapshot, which every open socket holds, keeps them all in the object.
 */
export function toSession(record: SessionRecord): Session {
  const { sessionId, metadataVersion, connectionCount, userId, conversationId } = record;
  const createdAt = new Date(record.createdAt);
  const lastActivity = new Date(record.lastActivity);
  const metadata = record.metadata === '{}' ? {} : (JSON.parse(record.metadata) as JsonObject);
  const activeRequests = [...record.activeRequests];
  if (userId === undefined) {
    if (conversationId === undefined) {
      return {
        sessionId,
        createdAt,
        lastActivity,
        metadata,
        metadataVersion,
        connectionCount,
        activeRequests,
      };
    }
    return {
      sessionId,
      createdAt,
      lastActivity,
      metadata,
      metadataVersion,
      connectionCount,
      activeRequests,
      conversationId,
    };
  }
  if (conversationId === undefined) {
    return {
      sessionId,
      createdAt,
      lastActivity,
      metadata,
      metadataVersion,
      connectionCount,
      activeRequests,
      userId,
    };
  }
  return {
    sessionId,
    createdAt,
    lastActivity,
    metadata,
    metadataVersion,
    connectionCount,
    activeRequests,
    userId,
    conversationId,
  };
}
