import { ReplyError } from 'ioredis';
import { MorganError, StoreUnavailableError } from '../errors.js';
import type { SessionRecord } from '../session.js';

/** Session hash fields as Redis returns them (see `FIELDS` in scripts.ts). */
export type RawFields = readonly (string | null)[];

const NO_REQUESTS: readonly string[] = Object.freeze([]);

/** Builds a record from the `u c ca la m cc r mv` fields of a session hash. */
export function toRecord(sessionId: string, fields: RawFields): SessionRecord {
  const requests = fields[6];
  return {
    sessionId,
    userId: fields[0] ?? undefined,
    conversationId: fields[1] ?? undefined,
    createdAt: Number(fields[2]),
    lastActivity: Number(fields[3]),
    metadata: fields[4] ?? '{}',
    metadataVersion: Number(fields[7] ?? 1),
    connectionCount: Number(fields[5] ?? 0),
    activeRequests:
      requests === null || requests === undefined || requests === '[]'
        ? NO_REQUESTS
        : (JSON.parse(requests) as string[]),
  };
}

/** Decodes the `[id, fields, id, fields, ...]` replies of the sweep and list scripts. */
export function toRecords(reply: unknown): SessionRecord[] {
  const items = reply as (string | RawFields)[];
  const records: SessionRecord[] = [];
  for (let i = 0; i + 1 < items.length; i += 2) {
    records.push(toRecord(items[i] as string, items[i + 1] as RawFields));
  }
  return records;
}

/** Encodes an optional string for the create script: '' when absent, '=' + value otherwise. */
export function optionalArg(value: string | undefined): string {
  return value === undefined ? '' : `=${value}`;
}

// Replies that mean "Redis cannot serve now" rather than "the command is wrong".
const UNAVAILABLE_REPLY =
  /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|OOM|MISCONF)\b/;

/**
 * Normalises what a Redis call threw: connection loss, timeouts and "server
 * busy" replies become `StoreUnavailableError` (503, `STORE_UNAVAILABLE`);
 * other server replies (a bug in a script) pass through unchanged.
 */
export function toStoreError(thrown: unknown): Error {
  if (thrown instanceof MorganError) return thrown;
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  if (error instanceof ReplyError && !UNAVAILABLE_REPLY.test(error.message)) return error;
  // The driver's text (hosts, replies) stays in `cause`, for logs: error bodies get ours.
  return new StoreUnavailableError('Redis is unavailable', { cause: error });
}
