import { ErrorCode, MorganError } from '../errors.js';
import { RESERVED_EVENT_TYPES } from '../protocol.js';

/** Longest event type, in characters. */
const MAX_TYPE_LENGTH = 128;

/**
 * Checks an event type given to `append`: a string of 1 to 128 characters,
 * not one of the reserved types (`gap`, `session.rotated`).
 *
 * @throws MorganError `INVALID_REQUEST` otherwise.
 */
export function checkEventType(type: unknown): asserts type is string {
  if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_LENGTH) {
    throw new MorganError(
      ErrorCode.INVALID_REQUEST,
      `Event type must be a string of 1 to ${MAX_TYPE_LENGTH} characters`,
    );
  }
  if (RESERVED_EVENT_TYPES.includes(type)) {
    throw new MorganError(ErrorCode.INVALID_REQUEST, `Event type "${type}" is reserved`);
  }
}

/**
 * Serialises event data once, so every reader can get its own copy.
 *
 * @throws MorganError `INVALID_REQUEST` when it is not JSON,
 *   `PAYLOAD_TOO_LARGE` when its UTF-8 text is longer than `maxBytes`.
 */
export function encodeEventData(data: unknown, maxBytes: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (cause) {
    throw new MorganError(ErrorCode.INVALID_REQUEST, 'Event data must be JSON', { cause });
  }
  if (json === undefined)
    throw new MorganError(ErrorCode.INVALID_REQUEST, 'Event data must be JSON');
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxBytes) {
    throw new MorganError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `Event data is ${bytes} bytes, more than the limit of ${maxBytes}`,
    );
  }
  return json;
}

/** Returns `value` when it is a positive number. @throws MorganError `INVALID_CONFIG` otherwise. */
export function positiveOption(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new MorganError(
      ErrorCode.INVALID_CONFIG,
      `${name} must be a positive number, got ${value}`,
    );
  }
  return value;
}
