import type { IdempotencyClaim } from '../store/store.js';
import type { RedisConnectionParts } from './session-reads.js';

/** The windows an idempotency record lives by, read when a call runs. */
export interface IdempotencyWindows {
  /** How long a record is kept, in ms. */
  windowMs(): number;
  /** The session timeout, in ms (a claim needs a live session). */
  timeoutMs(): number;
}

/**
 * The store's idempotency records, each under its key next to the session's
 * hash (one slot): one script per claim, completion or release. See
 * `idempotency-scripts.ts` for the record's format.
 */
export class RedisIdempotencyRecords {
  readonly #parts: RedisConnectionParts;
  readonly #windows: IdempotencyWindows;

  constructor(parts: RedisConnectionParts, windows: IdempotencyWindows) {
    this.#parts = parts;
    this.#windows = windows;
  }

  /** The key's record, or a new pending claim for a live session. */
  async claim(
    sessionId: string,
    key: string,
    fingerprint: string,
    now: number,
  ): Promise<IdempotencyClaim> {
    const { connection, keys } = this.#parts;
    const reply = await connection.run(
      'morganIdemClaim',
      keys.idempotencyKey(sessionId, key),
      keys.session(sessionId),
      fingerprint,
      this.#windows.windowMs(),
      now,
      this.#windows.timeoutMs(),
    );
    return typeof reply === 'string' ? parseIdempotencyRecord(reply) : { state: 'new' };
  }

  async complete(sessionId: string, key: string, outcome: string): Promise<void> {
    const { connection, keys } = this.#parts;
    await connection.run(
      'morganIdemComplete',
      keys.idempotencyKey(sessionId, key),
      outcome,
      this.#windows.windowMs(),
    );
  }

  async release(sessionId: string, key: string): Promise<void> {
    const { connection, keys } = this.#parts;
    await connection.run('morganIdemRelease', keys.idempotencyKey(sessionId, key));
  }
}

/** A key's record: `p<fingerprint>` (pending) or `d<fingerprint>\n<outcome>` (done). */
function parseIdempotencyRecord(value: string): IdempotencyClaim {
  if (value.startsWith('p')) return { state: 'pending', fingerprint: value.slice(1) };
  const end = value.indexOf('\n');
  return { state: 'done', fingerprint: value.slice(1, end), outcome: value.slice(end + 1) };
}
