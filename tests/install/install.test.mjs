// The packages as a user gets them: both are packed with `pnpm pack` (which
// turns `workspace:` ranges into versions), and the tarballs are installed
// with plain npm into fresh apps outside the workspace, so no workspace link,
// hoisted package or root tsconfig can help. Each app is the README quick
// starts (packages/server/README.md, packages/client/README.md) plus type
// assertions; it is typechecked and compiled by tsc, then the server runs and
// the client SDK connects to it from Node over HTTP and WebSocket.
//
// A matrix of apps, so both ends of the supported ranges are installed, each
// with one copy of tRPC and skipLibCheck off (Morgan's .d.ts are checked
// against the installed tRPC's and Express's own types):
// - Express 4 + @types/express 4 + the newest @trpc/* 11.x, without ioredis
//   (an optional peer);
// - Express 5 + @trpc/* at the floor of Morgan's peer range, with ioredis and
//   the Redis sample;
// - Express 5 + @trpc/* 11.19.0, a release many apps pinned (the floor was
//   11.22.1 before Morgan kept to tRPC's public API).
// tRPC releases before 11.25 ship declarations (`@trpc/server/adapters/ws`,
// which `@trpc/client`'s wsLink imports) that a full library check fails
// with @types/ws 8.5.13 and later, whoever imports them; the apps on those
// releases pin @types/ws 8.5.12, as such an app must.
//
// Outside CI an unreachable registry skips the test with a message; under
// CI=true it fails.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  cleanEnv,
  freePort,
  npmInstall,
  packPackages,
  registryAnswers,
  root,
  run,
  start,
  typeScriptSamples,
} from './support.mjs';

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const serverManifest = readJson(join(root, 'packages', 'server', 'package.json'));
const trpcFloor = serverManifest.peerDependencies['@trpc/server'].replace(/^\^/, '');
const typescriptVersion = readJson(join(root, 'package.json')).devDependencies.typescript;

const variants = [
  {
    name: 'Express 4, newest @trpc/* 11.x, no ioredis, full library check',
    express: '^4.21.0',
    typesExpress: '^4.17.21',
    trpc: '^11',
    typesWs: '^8',
    redis: false,
    skipLibCheck: false,
  },
  {
    name: `Express 5, @trpc/* ${trpcFloor} (the floor of the peer range), ioredis`,
    express: '^5',
    typesExpress: '^5',
    trpc: trpcFloor,
    typesWs: '8.5.12',
    redis: true,
    skipLibCheck: false,
  },
  ...(trpcFloor === '11.19.0'
    ? []
    : [
        {
          name: 'Express 5, @trpc/* 11.19.0',
          express: '^5',
          typesExpress: '^5',
          trpc: '11.19.0',
          typesWs: '8.5.12',
          redis: false,
          skipLibCheck: false,
        },
      ]),
];

// Compile-time checks that the installed types reach an app: inputs, outputs
// and ctx are inferred, not `any` (a missing tRPC export in Morgan's .d.ts
// turns them into `any` silently under skipLibCheck).
const ASSERTIONS = `// assertions.ts
import type { SessionClient } from '@morgan/session-client';
import type { Session } from '@morgan/session-server';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { Request } from 'express';
import type { OwnAppRouter } from './own-instance.js';
import type { AppRouter } from './server.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
type Client = SessionClient<AppRouter>['trpc'];
type Greeting = { greeting: string; sessionId: string };

export type Checks = [
  Expect<Equal<inferRouterInputs<AppRouter>['greet'], { name: string }>>,
  Expect<Equal<inferRouterOutputs<AppRouter>['greet'], Greeting>>,
  Expect<Equal<inferRouterOutputs<AppRouter>['session']['create'], Session>>,
  Expect<Equal<Awaited<ReturnType<Client['greet']['query']>>, Greeting>>,
  Expect<Equal<inferRouterOutputs<OwnAppRouter>['notes'], { notes: string[]; user: string | undefined; session: string }>>,
  Expect<Equal<Request['morgan']['session'], Session | undefined>>,
];

export function wrongCalls(client: Client): void {
  // @ts-expect-error name is a string
  void client.greet.query({ name: 1 });
  // @ts-expect-error no such procedure
  void client.nope.query();
}
`;

let packDir;
let tarballs;
/** Whether `npm ping` got an answer; if not, npm installs from its cache alone (`--offline`). */
let online;

before(async () => {
  online = await registryAnswers();
  ({ dir: packDir, tarballs } = await packPackages(['server', 'client']));
});

after(() => {
  if (packDir) rmSync(packDir, { recursive: true, force: true });
});

describe('both packages, packed and installed with npm into an app outside the workspace', {
  concurrency: true,
}, () => {
  for (const variant of variants) {
    test(variant.name, { timeout: 600_000 }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'morgan-install-'));
      try {
        if (!(await install(t, dir, variant))) return;
        checkInstalled(dir, variant);
        writeApp(dir, variant);
        const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
        const compiled = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], {
          cwd: dir,
          timeoutMs: 180_000,
        });
        assert.equal(compiled.code, 0, `tsc failed in ${dir}:\n${compiled.output}`);
        await runApp(dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/** npm install of the tarballs and the app's own dependencies; false when skipped. */
async function install(t, dir, variant) {
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'morgan-install-app', private: true, type: 'module' }, null, 2)}\n`,
  );
  const dependencies = [
    ...tarballs,
    `express@${variant.express}`,
    `@types/express@${variant.typesExpress}`,
    `@trpc/server@${variant.trpc}`,
    `@trpc/client@${variant.trpc}`,
    'superjson@^2',
    'ws@^8',
    'zod@^4',
    `typescript@${typescriptVersion}`,
    '@types/node@^20',
    `@types/ws@${variant.typesWs}`,
    ...(variant.redis ? ['ioredis@^5'] : []),
  ];
  const output = await npmInstall(t, dir, dependencies, { online });
  if (output === undefined) return false;
  // Peer ranges that fit: npm neither overrides nor warns about a peer.
  assert.doesNotMatch(output, /ERESOLVE|peer dep|conflicting peer/i, output);
  return true;
}

/** What npm installed is what a user gets: versions resolved, one copy of tRPC, no tests. */
function checkInstalled(dir, variant) {
  const modules = join(dir, 'node_modules');
  for (const name of ['session-server', 'session-client']) {
    const pkgDir = join(modules, '@morgan', name);
    const manifest = readFileSync(join(pkgDir, 'package.json'), 'utf8');
    assert.doesNotMatch(manifest, /workspace:/, `${name}: a workspace: range survived packing`);
    for (const file of ['README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']) {
      assert.ok(existsSync(join(pkgDir, file)), `${name}: ${file} is not in the tarball`);
    }
    const shipped = readdirSync(pkgDir, { recursive: true }).map(String);
    const tests = shipped.filter((file) => /\.test\.|test-suite|(^|\/)testing\//.test(file));
    assert.deepEqual(tests, [], `${name} ships test files`);
    // The app's copy of tRPC is the only one: no nested copy under Morgan.
    assert.ok(!existsSync(join(pkgDir, 'node_modules', '@trpc')), `${name} got its own @trpc`);
  }
  const express = readJson(join(modules, 'express', 'package.json')).version;
  assert.equal(express.split('.')[0], variant.express.replace(/^\^/, '').split('.')[0]);
  const trpc = readJson(join(modules, '@trpc', 'server', 'package.json')).version;
  if (!variant.trpc.startsWith('^')) assert.equal(trpc, variant.trpc);
  // ioredis is an optional peer: installed only by apps that ask for it.
  assert.equal(existsSync(join(modules, 'ioredis')), variant.redis);
}

/** The READMEs' quick starts, the type assertions and a tsconfig. */
function writeApp(dir, variant) {
  const samples = new Map([
    ...typeScriptSamples(join(root, 'packages', 'server', 'README.md')),
    ...typeScriptSamples(join(root, 'packages', 'client', 'README.md')),
    ['assertions.ts', ASSERTIONS],
  ]);
  for (const name of ['server.ts', 'client.ts', 'own-instance.ts', 'redis.ts']) {
    assert.ok(samples.has(name), `the READMEs have no ${name} sample`);
  }
  if (!variant.redis) samples.delete('redis.ts');
  for (const [name, code] of samples) writeFileSync(join(dir, name), code);
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: variant.skipLibCheck,
    // One pass both typechecks and compiles: any type error fails it and emits nothing.
    noEmitOnError: true,
    outDir: 'out',
    types: ['node'],
  };
  writeFileSync(
    join(dir, 'tsconfig.json'),
    `${JSON.stringify({ compilerOptions, files: [...samples.keys()] }, null, 2)}\n`,
  );
}

/** Starts the quick-start server, checks it over plain HTTP, runs the client, shuts down. */
async function runApp(dir) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = start(process.execPath, ['out/server.js'], {
    cwd: dir,
    env: cleanEnv({ PORT: String(port) }),
    ready: /listening on/,
    timeoutMs: 20_000,
  });
  try {
    await server.started;
    await checkHttp(url);
    const client = await run(process.execPath, ['out/client.js'], {
      cwd: dir,
      env: cleanEnv({ SERVER_URL: url }),
      timeoutMs: 30_000,
    });
    const out = client.output;
    assert.equal(client.code, 0, `the client failed:\n${out}\nserver:\n${server.output()}`);
    const sessionId = /^session ([0-9a-f-]{36})$/m.exec(out)?.[1];
    assert.ok(sessionId, `no session id in the client's output:\n${out}`);
    assert.match(out, /^state connected$/m);
    assert.match(out, /^hello Ada$/m);
    assert.match(out, /^event \{"theme":"dark"\}$/m);
    assert.ok(out.includes(`me {"sessionId":"${sessionId}"}`), out);
    assert.match(out, /^state closed$/m);
  } finally {
    const code = await server.stop(10_000);
    assert.equal(code, 0, `the server did not shut down cleanly:\n${server.output()}`);
  }
  assert.match(server.output(), /shut down/);
}

/** The Express side on the installed Express major: health, JSON errors, the trust model. */
async function checkHttp(url) {
  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'ok');
  const noSession = await fetch(`${url}/api/me`);
  assert.equal(noSession.status, 401);
  assert.equal((await noSession.json()).error.code, 'SESSION_REQUIRED');
  const claimed = await fetch(`${url}/trpc/session.create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ json: { userId: 'alice' } }),
  });
  assert.equal(claimed.status, 400); // superjson wraps the tRPC error in `json`
  assert.equal((await claimed.json()).error.json.data.errorCode, 'INVALID_REQUEST');
}
