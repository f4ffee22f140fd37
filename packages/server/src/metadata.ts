import { ErrorCode, InvalidMetadataError } from './errors.js';

import type { JsonObject, JsonValue } from './protocol.js';

export type { JsonObject, JsonPrimitive, JsonValue } from './protocol.js';

/** The default limit on serialised metadata: 16 KiB. */
export const DEFAULT_MAX_METADATA_BYTES = 16 * 1024;

/** The default limit on how deeply metadata may nest objects and arrays. */
export const DEFAULT_MAX_METADATA_DEPTH = 16;

const EMPTY = '{}';

/**
 * Validates metadata and returns its JSON text, which is what stores keep.
 * Only plain JSON is accepted: objects, arrays, strings, finite numbers,
 * booleans and null. Anything else (functions, class instances, `undefined`,
 * `NaN`, cycles) is rejected rather than silently dropped, and so is
 * nesting deeper than `maxDepth` (checked before going deeper, so hostile
 * input cannot exhaust the stack).
 *
 * @throws InvalidMetadataError with code `INVALID_METADATA` or `METADATA_TOO_LARGE`.
 */
export function serializeMetadata(
  metadata: unknown,
  maxBytes: number,
  maxDepth: number = DEFAULT_MAX_METADATA_DEPTH,
): string {
  if (metadata === undefined) return EMPTY;
  if (!isPlainObject(metadata)) {
    throw new InvalidMetadataError(ErrorCode.INVALID_METADATA, 'Metadata must be a JSON object');
  }
  assertJson(metadata, '$', new Set(), maxDepth);
  const text = JSON.stringify(metadata);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new InvalidMetadataError(
      ErrorCode.METADATA_TOO_LARGE,
      `Metadata is ${bytes} bytes, more than the limit of ${maxBytes}`,
    );
  }
  return text === EMPTY ? EMPTY : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function assertJson(value: unknown, path: string, seen: Set<object>, depthLeft: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value)) return;
      throw invalid(path, 'is not a finite number');
    case 'object': {
      if (value === null) return;
      if (depthLeft <= 0) throw invalid(path, 'is nested too deeply');
      if (seen.has(value)) throw invalid(path, 'is a circular reference');
      seen.add(value);
      if (Array.isArray(value)) {
        for (const [index, item] of value.entries()) {
          assertJson(item, `${path}[${index}]`, seen, depthLeft - 1);
        }
      } else if (isPlainObject(value)) {
        for (const [key, item] of Object.entries(value)) {
          assertJson(item, `${path}.${key}`, seen, depthLeft - 1);
        }
      } else {
        throw invalid(path, 'is not a plain object');
      }
      seen.delete(value);
      return;
    }
    default:
      throw invalid(path, `has type ${typeof value}, which JSON cannot hold`);
  }
}

function invalid(path: string, reason: string): InvalidMetadataError {
  return new InvalidMetadataError(ErrorCode.INVALID_METADATA, `Metadata ${path} ${reason}`);
}

/**
 * Applies a JSON merge patch (RFC 7396) to `target`, returning a new object:
 * a key set to `null` is removed, an object merges key by key (into `{}` when
 * the key held no object), anything else (arrays included) replaces. Neither argument is changed.
 *
 * @example
 * mergePatch({ cart: [1], theme: 'dark' }, { cart: [1, 2], theme: null }); // { cart: [1, 2] }
 */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result: Record<string, JsonValue> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete result[key];
    } else if (isPlainObject(value)) {
      const current = result[key];
      result[key] = mergePatch(
        isPlainObject(current) ? (current as JsonObject) : {},
        value as JsonObject,
      );
    } else {
      result[key] = value;
    }
  }
  return result;
}
