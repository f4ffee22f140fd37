import type { SessionRecord } from '../session.js';
import type { NodeLease } from './node-lease.js';
import type { RecentWrites } from './recent-writes.js';
import { type RawFields, toRecord } from './records.js';
import type { ScriptName } from './scripts.js';
import type { RedisConnectionParts } from './session-reads.js';

/** What an update needs beyond the connection: this node, its lease, and settings read when it runs. */
export interface SessionUpdateSettings {
  readonly nodeId: string;
  readonly lease: NodeLease;
  /** This node's memory of its `lastActivity` writes (touch coalescing). */
  readonly recentWrites: RecentWrites;
  timeoutMs(): number;
  ttlMs(): number;
  requestWindowMs(): number;
}

/**
 * The one-script updates of a session's hash: touches, and the pins
 * (requests in flight, open connections) this node records under its lease,
 * so that those of a node that died are undone by the next sweep anywhere.
 */
export class SessionUpdates {
  readonly #parts: RedisConnectionParts;
  readonly #settings: SessionUpdateSettings;

  constructor(parts: RedisConnectionParts, settings: SessionUpdateSettings) {
    this.#parts = parts;
    this.#settings = settings;
  }

  /**
   * Adds a request in flight. When the call fails (a slow Redis that did not
   * answer in `commandTimeoutMs`, a dropped connection), the script may still
   * run on Redis afterwards and pin the session for good; so a failed add is
   * followed by its undo on the same connection, which Redis runs after it
   * (removing a request id is idempotent).
   */
  addRequest(
    sessionId: string,
    requestId: string,
    now: number,
  ): Promise<SessionRecord | undefined> {
    return this.update('morganAddRequest', sessionId, now, true, requestId).catch(
      (error: unknown) => {
        this.update('morganRemoveRequest', sessionId, now, true, requestId).catch(() => {});
        throw error;
      },
    );
  }

  async removeRequest(sessionId: string, requestId: string, now: number): Promise<void> {
    await this.update('morganRemoveRequest', sessionId, now, true, requestId);
  }

  /**
   * Counts an open connection. A count that timed out was sent and may still
   * run on Redis, so it is followed by its undo on the same connection
   * (which Redis runs after it). Only after a timeout: when the command may
   * never have been sent, an undo could uncount another socket of the session.
   */
  addConnection(sessionId: string, now: number): Promise<SessionRecord | undefined> {
    return this.update('morganAddConnection', sessionId, now, true).catch((error: unknown) => {
      if (isTimeout(error)) {
        this.update('morganRemoveConnection', sessionId, now, true).catch(() => {});
      }
      throw error;
    });
  }

  async removeConnection(sessionId: string, now: number): Promise<void> {
    await this.update('morganRemoveConnection', sessionId, now, true);
  }

  /** Runs one update script on the session's hash (pinned under this node's lease when `pins`). */
  async update(
    name: ScriptName,
    sessionId: string,
    now: number,
    pins: boolean,
    requestId?: string,
  ): Promise<SessionRecord | undefined> {
    const { connection, keys: layout } = this.#parts;
    const { nodeId, lease, recentWrites } = this.#settings;
    const shard = layout.shardOf(sessionId);
    const keys = [layout.session(sessionId), shard.idle, shard.pinned];
    const args: (string | number)[] = [
      sessionId,
      now,
      this.#settings.timeoutMs(),
      this.#settings.ttlMs(),
    ];
    if (pins) {
      const leaseKey = shard.lease(nodeId);
      keys.push(shard.pins(nodeId), leaseKey, shard.nodes);
      args.push(nodeId, lease.leaseMs, requestId ?? '');
      if (name === 'morganAddRequest') args.push(this.#settings.requestWindowMs());
      lease.keep(leaseKey, shard.nodes);
    }
    const reply = await connection.run(name, ...keys, ...args);
    // Every script that answers (fields or 1) has set lastActivity to >= now.
    if (reply !== null) recentWrites.record(sessionId, now);
    if (!Array.isArray(reply)) return undefined;
    const fields = reply as RawFields;
    const record = toRecord(sessionId, fields);
    if (fields.length > 9) {
      record.requestWindow = Number(fields[8]);
      record.requestsInWindow = Number(fields[9]);
    }
    return record;
  }
}

/** True when a Redis command was sent but not answered within the command timeout. */
function isTimeout(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error && cause.message === 'Command timed out';
}
