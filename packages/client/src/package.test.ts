import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { WebSocket } from 'ws';
import * as sdk from './index.js';
import {
  type ConnectionState,
  createSessionClient,
  type SessionClient,
  type SessionEvent,
  type SessionInfo,
  sessionClientDefaults,
} from './index.js';
import type { TestRouter } from './testing/server.js';

const srcDir = dirname(fileURLToPath(import.meta.url));
const BROWSER_SAFE = new Set([
  '@trpc/client',
  '@trpc/server',
  '@trpc/server/observable',
  'superjson',
]);

/** The server's wire protocol, which the client may import for types only. */
const TYPE_ONLY = new Set(['@morgan/session-server/protocol']);

/** True when the declaration imports or re-exports types only (erased from the JS). */
function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) return node.isTypeOnly;
  return node.importClause?.isTypeOnly === true;
}

/** Every module a file imports or re-exports at run time, statically or dynamically. */
function moduleSpecifiers(fileName: string, text: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined
    ) {
      if (!ts.isStringLiteral(node.moduleSpecifier)) return;
      const specifier = node.moduleSpecifier.text;
      if (!(TYPE_ONLY.has(specifier) && isTypeOnly(node))) found.push(specifier);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true));
  return found;
}

/** The shipped sources, subfolders (`shared/`) included: all but tests and `testing/`. */
async function shippedFiles(): Promise<string[]> {
  return (await readdir(srcDir, { recursive: true }))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .filter((file) => !file.startsWith(`testing${sep}`));
}

describe('package surface', () => {
  it('ships no Node-only import: every import is relative or a browser-safe package', async () => {
    const offenders: string[] = [];
    for (const file of await shippedFiles()) {
      const text = await readFile(join(srcDir, file), 'utf8');
      for (const specifier of moduleSpecifiers(file, text)) {
        if (specifier.startsWith('./') || specifier.startsWith('../')) continue;
        if (!BROWSER_SAFE.has(specifier)) offenders.push(`${file}: ${specifier}`);
      }
      if (/\bprocess\.|\bBuffer\b|\brequire\(/.test(text)) offenders.push(`${file}: Node global`);
    }
    expect(offenders).toEqual([]);
  });

  it('exports on purpose: what the docs describe, not the helpers only tests use', () => {
    expect(Object.keys(sdk).sort()).toEqual([
      'ClientErrorCode',
      'CloseCode',
      'GAP_EVENT_TYPE',
      'RETRYABLE_STATUSES',
      'ROTATED_EVENT_TYPE',
      'SESSION_HEADER',
      'SessionClient',
      'SessionClientError',
      'createSessionClient',
      'fullJitterBackoff',
      'httpRetryDefaults',
      'isGapEvent',
      'isRotatedEvent',
      'lazyDefaults',
      'reconnectDefaults',
      'sessionClientDefaults',
      'transportFallbackDefaults',
    ]);
  });

  it('documents every default', () => {
    expect(sessionClientDefaults).toMatchObject({
      trpcPath: '/trpc',
      storageKey: 'morgan.sessionId',
      heartbeatIntervalMs: 60_000,
      reconnect: {
        baseDelayMs: 1_000,
        maxDelayMs: 30_000,
        factor: 2,
        maxAttempts: Number.POSITIVE_INFINITY,
      },
      http: { maxRetries: 3, statuses: [503, 429], idempotentPaths: [] },
    });
  });

  it('types the tRPC client by the app router, and the events by name', () => {
    const client = createSessionClient<TestRouter>({ url: 'http://127.0.0.1:1', WebSocket });
    expectTypeOf(client).toEqualTypeOf<SessionClient<TestRouter>>();
    expectTypeOf(client.trpc.test.whoami.query).returns.resolves.toEqualTypeOf<string>();
    expectTypeOf(client.trpc.test.count.mutate).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf(client.connect).returns.resolves.toEqualTypeOf<SessionInfo>();
    expectTypeOf(client.sessionId).toEqualTypeOf<string | undefined>();
    expectTypeOf(client.state).toEqualTypeOf<
      'idle' | 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'closed'
    >();
    client.on('state', (state, previous) => {
      expectTypeOf(state).toEqualTypeOf<ConnectionState>();
      expectTypeOf(previous).toEqualTypeOf<ConnectionState>();
    });
    client.on('session-replaced', (event) => {
      expectTypeOf(event.previousSessionId).toEqualTypeOf<string>();
    });
    client.on('reconnect', (event) => {
      expectTypeOf(event).toEqualTypeOf<{ attempt: number; delayMs: number }>();
    });
    client.on('event', (event) => {
      expectTypeOf(event).toEqualTypeOf<SessionEvent>();
    });
    // @ts-expect-error unknown event names do not compile
    client.on('nope', () => {});
    void client.close();
  });
});
