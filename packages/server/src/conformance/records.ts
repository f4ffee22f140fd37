import { randomUUID } from 'node:crypto';
import type { SessionRecord } from '../session.js';

/** A new idle session record for store tests; `at` is both its creation and last activity. */
export function sessionRecord(at: number, fields: Partial<SessionRecord> = {}): SessionRecord {
  return {
    sessionId: randomUUID(),
    userId: undefined,
    conversationId: undefined,
    createdAt: at,
    lastActivity: at,
    metadata: '{}',
    metadataVersion: 1,
    connectionCount: 0,
    activeRequests: [],
    ...fields,
  };
}
