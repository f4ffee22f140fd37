import { ErrorCode, MorganError, SessionNotFoundError, VersionConflictError } from '../errors.js';
import type { EventLog, SessionEvent } from '../events/event-log.js';
import { type JsonObject, type JsonValue, mergePatch, serializeMetadata } from '../metadata.js';
import {
  type CreateSessionInput,
  newSessionId,
  type Session,
  type SessionRecord,
  toSession,
} from '../session.js';
import type { RotateChanges, Store } from '../store/store.js';
import type { SessionAdmission } from './admission.js';
import type { SessionAnnouncer } from './announcer.js';

/** What `Sessions` needs. */
export interface SessionsParts {
  readonly store: Store;
  readonly events: EventLog;
  /** Room in the store and per user before a creation. */
  readonly admission: SessionAdmission;
  /** Announces creations, deletions and rotations. */
  readonly announcer: SessionAnnouncer;
  readonly now: () => number;
  readonly maxMetadataBytes: number;
  readonly maxMetadataDepth: number;
}

/** Tries of one `updateMetadata` without `ifVersion` when others keep updating first. */
const MAX_METADATA_ATTEMPTS = 32;

/**
 * The sessions in the store, as the manager's callers see them: created
 * within the caps, read as `Session` snapshots, changed by merge patch,
 * rotated and ended, each change announced.
 */
export class Sessions {
  readonly #store: Store;
  readonly #events: EventLog;
  readonly #admission: SessionAdmission;
  readonly #announcer: SessionAnnouncer;
  readonly #now: () => number;
  readonly #maxMetadataBytes: number;
  readonly #maxMetadataDepth: number;

  constructor(parts: SessionsParts) {
    this.#store = parts.store;
    this.#events = parts.events;
    this.#admission = parts.admission;
    this.#announcer = parts.announcer;
    this.#now = parts.now;
    this.#maxMetadataBytes = parts.maxMetadataBytes;
    this.#maxMetadataDepth = parts.maxMetadataDepth;
  }

  async create(input: CreateSessionInput): Promise<Session> {
    await this.#admission.roomForOneMore();
    const now = this.#now();
    const record: SessionRecord = {
      sessionId: newSessionId(),
      userId: optionalString('userId', input.userId),
      conversationId: optionalString('conversationId', input.conversationId),
      createdAt: now,
      lastActivity: now,
      metadata: serializeMetadata(input.metadata, this.#maxMetadataBytes, this.#maxMetadataDepth),
      metadataVersion: 1,
      connectionCount: 0,
      activeRequests: [],
    };
    if (record.userId !== undefined) {
      // Ends the user's least recently active sessions, as a device limit would.
      const oldest = await this.#admission.overUserCap(record.userId, now);
      if (oldest.length > 0) {
        await Promise.all(oldest.map((old) => this.delete(old.sessionId)));
      }
    }
    await this.#store.create(record);
    // Listeners get a snapshot of their own.
    this.#announcer.sessionCreated(toSession(record));
    return toSession(record);
  }

  /** Applies a merge patch to the version read, again on a conflict (see `updateMetadata`). */
  async updateMetadata(
    sessionId: string,
    patch: JsonObject,
    ifVersion: number | undefined,
  ): Promise<Session> {
    // Validates the patch itself (JSON, depth) before anything is read.
    serializeMetadata(patch, Number.POSITIVE_INFINITY, this.#maxMetadataDepth);
    for (let attempt = 0; attempt < MAX_METADATA_ATTEMPTS; attempt += 1) {
      const record = await this.#store.get(sessionId, this.#now());
      if (record === undefined) throw new SessionNotFoundError(sessionId);
      if (ifVersion !== undefined && ifVersion !== record.metadataVersion) {
        throw new VersionConflictError(record.metadataVersion);
      }
      const merged = mergePatch(JSON.parse(record.metadata) as JsonObject, patch);
      const text = serializeMetadata(merged, this.#maxMetadataBytes, this.#maxMetadataDepth);
      const updated = await this.#store.replaceMetadata(
        sessionId,
        text,
        record.metadataVersion,
        this.#now(),
      );
      if (updated === undefined) throw new SessionNotFoundError(sessionId);
      if (updated !== 'conflict') return toSession(updated);
      if (ifVersion !== undefined) throw new VersionConflictError();
    }
    // Updated by others this many times in a row while this one tried.
    throw new VersionConflictError();
  }

  async get(sessionId: string): Promise<Session | undefined> {
    const record = await this.#store.get(sessionId, this.#now());
    return record && toSession(record);
  }

  async getByUser(userId: string): Promise<Session | undefined> {
    const [record] = await this.#store.listByUser(userId, this.#now());
    return record && toSession(record);
  }

  async listByUser(userId: string): Promise<Session[]> {
    const records = await this.#store.listByUser(userId, this.#now());
    return records.map(toSession);
  }

  async list(limit: number): Promise<Session[]> {
    if (this.#store.list === undefined) {
      const message = `The ${this.#store.name} store cannot list sessions`;
      throw new MorganError(ErrorCode.INTERNAL_ERROR, message);
    }
    const records = await this.#store.list(limit, this.#now());
    return records.map(toSession);
  }

  async delete(sessionId: string): Promise<boolean> {
    const record = await this.#store.delete(sessionId);
    if (record === undefined) return false;
    this.#announcer.sessionDeleted(record);
    return true;
  }

  async deleteByUser(userId: string): Promise<number> {
    const records = await this.#store.listByUser(
      optionalString('userId', userId) ?? '',
      this.#now(),
    );
    const deleted = await Promise.all(records.map((record) => this.delete(record.sessionId)));
    return deleted.filter(Boolean).length;
  }

  async rotate(sessionId: string, changes: RotateChanges): Promise<Session> {
    const userId = optionalString('userId', changes.userId);
    const record = await this.#store.rotate(sessionId, newSessionId(sessionId), this.#now(), {
      userId,
    });
    if (record === undefined) throw new SessionNotFoundError(sessionId);
    this.#announcer.sessionRotated(sessionId, record.sessionId, 'local');
    return toSession(record);
  }

  async publish<TData extends JsonValue>(
    sessionId: string,
    type: string,
    data: TData,
  ): Promise<SessionEvent<TData>> {
    if ((await this.#store.get(sessionId, this.#now())) === undefined) {
      throw new SessionNotFoundError(sessionId);
    }
    return this.#events.append(sessionId, type, data);
  }

  async touch(sessionId: string): Promise<Session | undefined> {
    const record = await this.#store.touch(sessionId, this.#now());
    return record && toSession(record);
  }

  async addConnection(sessionId: string): Promise<Session> {
    const record = await this.#store.addConnection(sessionId, this.#now());
    if (record === undefined) throw new SessionNotFoundError(sessionId);
    return toSession(record);
  }

  async removeConnection(sessionId: string): Promise<void> {
    await this.#store.removeConnection(sessionId, this.#now());
  }
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new MorganError(
      ErrorCode.INVALID_REQUEST,
      `${name} must be a string of 1 to 256 characters`,
    );
  }
  return value;
}
