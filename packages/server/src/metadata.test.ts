import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidMetadataError } from './errors.js';
import { SessionManager } from './manager.js';
import {
  DEFAULT_MAX_METADATA_BYTES,
  DEFAULT_MAX_METADATA_DEPTH,
  serializeMetadata,
} from './metadata.js';

const LIMIT = 1024;

function rejection(metadata: unknown, maxBytes = LIMIT): InvalidMetadataError {
  try {
    serializeMetadata(metadata, maxBytes);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidMetadataError);
    return error as InvalidMetadataError;
  }
  throw new Error('metadata was accepted');
}

class Point {
  x = 1;
}

describe('serializeMetadata', () => {
  it('documents a 16 KiB default limit', () => {
    expect(DEFAULT_MAX_METADATA_BYTES).toBe(16 * 1024);
    expect(new SessionManager().maxMetadataBytes).toBe(DEFAULT_MAX_METADATA_BYTES);
  });

  it('turns undefined into an empty object and keeps JSON as JSON', () => {
    expect(serializeMetadata(undefined, LIMIT)).toBe('{}');
    expect(serializeMetadata({}, LIMIT)).toBe('{}');
    const value = { s: 'é', n: -1.5, b: false, z: null, list: [1, 'two', [3]], o: { deep: {} } };
    expect(JSON.parse(serializeMetadata(value, LIMIT))).toEqual(value);
  });

  it('accepts objects without a prototype and the same object twice (no cycle)', () => {
    const shared = { k: 1 };
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, {
      a: shared,
      b: shared,
    });
    expect(JSON.parse(serializeMetadata(bare, LIMIT))).toEqual({ a: { k: 1 }, b: { k: 1 } });
  });

  it.each([
    ['an array', [1, 2]],
    ['a string', 'text'],
    ['a number', 5],
    ['null', null],
    ['a Date', new Date(0)],
    ['a class instance', new Point()],
  ])('rejects %s at the top level', (_, value) => {
    expect(rejection(value).code).toBe(ErrorCode.INVALID_METADATA);
  });

  it.each([
    ['a function', { f: () => 1 }, '$.f'],
    ['undefined', { u: undefined }, '$.u'],
    ['NaN', { n: Number.NaN }, '$.n'],
    ['Infinity', { list: [1, Number.POSITIVE_INFINITY] }, '$.list[1]'],
    ['a bigint', { big: 1n }, '$.big'],
    ['a symbol', { s: Symbol('s') }, '$.s'],
    ['a Date', { when: new Date(0) }, '$.when'],
    ['a Map', { m: new Map() }, '$.m'],
    ['a class instance', { nested: { p: new Point() } }, '$.nested.p'],
  ])('rejects %s inside, naming where', (_, value, path) => {
    const error = rejection(value);
    expect(error.code).toBe(ErrorCode.INVALID_METADATA);
    expect(error.message).toContain(path);
  });

  it('accepts nesting up to the depth limit and rejects one level more, objects and arrays alike', () => {
    expect(DEFAULT_MAX_METADATA_DEPTH).toBe(16);
    expect(new SessionManager().maxMetadataDepth).toBe(16);
    const objects = (depth: number): unknown => (depth === 0 ? 1 : { a: objects(depth - 1) });
    const arrays = (depth: number): unknown => (depth === 0 ? 1 : [arrays(depth - 1)]);
    expect(serializeMetadata(objects(16), LIMIT)).toContain('"a"');
    expect(rejection(objects(17))).toMatchObject({
      code: ErrorCode.INVALID_METADATA,
      message: expect.stringContaining('nested too deeply'),
    });
    // The top level is an object; below it arrays count like objects.
    expect(() => serializeMetadata({ list: arrays(15) }, LIMIT)).not.toThrow();
    expect(rejection({ list: arrays(16) }).code).toBe(ErrorCode.INVALID_METADATA);
    expect(() => serializeMetadata(objects(3), LIMIT, 2)).toThrow(InvalidMetadataError);
  });

  it('rejects cycles', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(rejection(cyclic).code).toBe(ErrorCode.INVALID_METADATA);
    const list: unknown[] = [];
    list.push({ back: list });
    expect(rejection({ list }).message).toContain('circular');
  });

  it('enforces the size limit in UTF-8 bytes with METADATA_TOO_LARGE', () => {
    const fits = { t: 'x'.repeat(LIMIT - 8) }; // {"t":"…"} is 8 bytes of syntax
    expect(Buffer.byteLength(serializeMetadata(fits, LIMIT))).toBe(LIMIT);
    const error = rejection({ t: 'x'.repeat(LIMIT - 7) });
    expect(error.code).toBe(ErrorCode.METADATA_TOO_LARGE);
    expect(error.message).toContain(String(LIMIT));
    // 'é' is one character but two bytes.
    expect(rejection({ t: 'é'.repeat(LIMIT / 2) }).code).toBe(ErrorCode.METADATA_TOO_LARGE);
  });
});

describe('metadata isolation through the manager', () => {
  it('stores a deep copy and hands out deep copies', async () => {
    const manager = new SessionManager();
    const metadata = { profile: { tags: ['a'] } };
    const session = await manager.createSession({ metadata });
    metadata.profile.tags.push('changed-input');
    (session.metadata.profile as { tags: string[] }).tags.push('changed-output');
    const first = await manager.getSession(session.sessionId);
    expect(first?.metadata).toEqual({ profile: { tags: ['a'] } });
    expect(first?.metadata).not.toBe(session.metadata);
    const second = await manager.getSession(session.sessionId);
    expect(second?.metadata.profile).not.toBe(first?.metadata.profile);
  });
});
