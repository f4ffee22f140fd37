import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as server from '@morgan/session-server/protocol';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { HeartbeatReport } from './heartbeat.js';
import * as client from './index.js';
import {
  CloseCode,
  code,
  GAP_EVENT_TYPE,
  RETRYABLE_STATUSES,
  ROTATED_EVENT_TYPE,
  SESSION_HEADER,
} from './protocol.js';
import { transpileSource } from './testing/transpile.js';

const srcDir = dirname(fileURLToPath(import.meta.url));

describe('client and server speak one protocol', () => {
  it('uses the server’s header, gap and rotation types, statuses and close codes', () => {
    expect(SESSION_HEADER).toBe(server.SESSION_HEADER);
    expect(GAP_EVENT_TYPE).toBe(server.GAP_EVENT_TYPE);
    expect(ROTATED_EVENT_TYPE).toBe(server.ROTATED_EVENT_TYPE);
    expect(RETRYABLE_STATUSES).toEqual(server.RETRYABLE_STATUSES);
    for (const [name, value] of Object.entries(CloseCode)) {
      expect(server.CloseCode[name as keyof typeof server.CloseCode]).toBe(value);
    }
    expect(client.sessionClientDefaults.http.statuses).toEqual(server.RETRYABLE_STATUSES);
  });

  it('agrees on the types (checked by the typecheck of this file)', () => {
    expectTypeOf<client.SessionInfo>().toEqualTypeOf<server.Session>();
    expectTypeOf<client.SessionEvent>().toEqualTypeOf<server.SessionEvent>();
    expectTypeOf<client.GapEvent>().toEqualTypeOf<server.GapEvent>();
    expectTypeOf<client.RotatedEvent>().toEqualTypeOf<server.RotatedEvent>();
    expectTypeOf<client.RotatedEventData>().toEqualTypeOf<server.RotatedEventData>();
    expectTypeOf(ROTATED_EVENT_TYPE).toEqualTypeOf<typeof server.ROTATED_EVENT_TYPE>();
    expectTypeOf<client.CreateSessionInput>().toEqualTypeOf<server.CreateSessionInput>();
    expectTypeOf<client.ErrorBody>().toEqualTypeOf<server.ErrorBody>();
    expectTypeOf<client.JsonObject>().toEqualTypeOf<server.JsonObject>();
    expectTypeOf<HeartbeatReport>().toExtend<server.HeartbeatResult>();
    expectTypeOf(CloseCode.SESSION_NOT_FOUND).toEqualTypeOf<
      typeof server.CloseCode.SESSION_NOT_FOUND
    >();
    expectTypeOf(SESSION_HEADER).toEqualTypeOf<typeof server.SESSION_HEADER>();
    expectTypeOf(code).parameter(0).toEqualTypeOf<server.ErrorCode>();
    // @ts-expect-error a code the server does not have does not compile
    code('SESSION_GONE');
    expect(code('SESSION_NOT_FOUND')).toBe(server.ErrorCode.SESSION_NOT_FOUND);
  });

  it('imports the server’s protocol for types only: the JavaScript never loads it', async () => {
    const files = (await readdir(srcDir)).filter(
      (file) => file.endsWith('.ts') && !file.endsWith('.test.ts'),
    );
    const importers: string[] = [];
    const loaders: string[] = [];
    for (const file of files) {
      const source = await readFile(join(srcDir, file), 'utf8');
      if (source.includes('@morgan/session-server')) importers.push(file);
      if (transpileSource(source, file).includes('@morgan/session-server')) loaders.push(file);
    }
    expect(importers).toContain('protocol.ts');
    expect(loaders).toEqual([]);
  });
});
