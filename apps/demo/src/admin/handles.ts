import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Longest session id a handle carries (UUIDs have 36 characters). */
const MAX_ID_BYTES = 128;
const HANDLE = /^[A-Za-z0-9_-]+$/;

/**
 * Opaque, per-node references to sessions, so that the dashboard can delete
 * and rotate the sessions it lists without ever holding their ids (bearer
 * credentials: whoever has one can act as that user).
 *
 * A handle is the session id encrypted with AES-256-GCM under a key this
 * process draws at start-up and never shows, with an IV derived from the id
 * (HMAC-SHA256 under a second key, as in SIV): the same session keeps the same
 * handle from one refresh to the next, a handle cannot be forged or turned
 * back into the id outside the node, and it stops working when the node
 * restarts (the dashboard refreshes every second).
 *
 * @example
 * const handles = new SessionHandles();
 * const handle = handles.handleOf(sessionId);
 * handles.sessionIdOf(handle); // sessionId
 */
export class SessionHandles {
  readonly #key = randomBytes(32);
  readonly #ivKey = randomBytes(32);

  /** The handle of `sessionId`; the same for the same id in this process. */
  handleOf(sessionId: string): string {
    const iv = createHmac('sha256', this.#ivKey).update(sessionId).digest().subarray(0, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const sealed = Buffer.concat([cipher.update(sessionId, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
  }

  /** The session id behind `handle`; undefined for anything this process did not issue. */
  sessionIdOf(handle: string): string | undefined {
    if (!HANDLE.test(handle)) return undefined;
    const bytes = Buffer.from(handle, 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES || bytes.length > IV_BYTES + MAX_ID_BYTES + TAG_BYTES)
      return undefined;
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      const id = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return id.toString('utf8');
    } catch {
      return undefined; // forged, altered, or issued by another process
    }
  }
}
