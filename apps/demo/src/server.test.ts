// The built entry point (`node dist/server.js`, what `npm start` runs) as a
// real process: it prints the dashboard's URL with a token it drew itself,
// that token opens the admin API, and a bad MORGAN_ADMIN_TOKEN stops it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type NodeProcess, startNodeProcess } from '@morgan/test-support';
import { afterEach, describe, expect, test } from 'vitest';
import { until } from './testing/wire.js';

/** The built demo server; `npm test` builds it before the suites. */
const entry = fileURLToPath(new URL('../dist/server.js', import.meta.url));

let node: NodeProcess | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
});

/** The URL of the `start`-th `Admin dashboard:` line the process printed (one per start). */
async function dashboardLine(demo: NodeProcess, start = 1): Promise<string> {
  const lines = () => [...demo.output.matchAll(/\[demo\] Admin dashboard: (\S+)/g)];
  await until(() => lines().length >= start, 10_000, 'the dashboard line');
  return lines()[start - 1]![1]!;
}

describe('node dist/server.js', () => {
  test('without MORGAN_ADMIN_TOKEN prints the dashboard URL with a fresh token, and that token works', async () => {
    node = await startNodeProcess({ entry, name: 'demo' });
    const printed = new URL(await dashboardLine(node));
    expect(printed.pathname).toBe('/admin/');
    expect(printed.port).toBe(String(node.port));
    const token = new URLSearchParams(printed.hash.slice(1)).get('token') ?? '';
    expect(token).toMatch(/^[\w-]{43}$/);

    const state = await fetch(`${node.url}/api/admin/state`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(state.status).toBe(200);
    expect(await state.json()).toMatchObject({ node: { store: 'memory' } });
    expect((await fetch(`${node.url}/api/admin/state`)).status).toBe(401);
    // The page the URL opens is there (the fragment never reaches the server).
    expect((await fetch(`${node.url}${printed.pathname}`)).status).toBe(200);

    // Another start draws another token; the old one stops working.
    await node.stop();
    await node.start();
    const again = new URL(await dashboardLine(node, 2)).hash;
    expect(again).not.toBe(printed.hash);
    const old = await fetch(`${node.url}/api/admin/state`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(old.status).toBe(401);
  });

  test('with MORGAN_ADMIN_TOKEN takes it and never prints it', async () => {
    const token = 'operator-chosen-admin-token';
    node = await startNodeProcess({ entry, name: 'demo', env: { MORGAN_ADMIN_TOKEN: token } });
    expect(await dashboardLine(node)).toBe(`http://localhost:${node.port}/admin/`);
    expect(node.output).not.toContain(token);
    const state = await fetch(`${node.url}/api/admin/state`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(state.status).toBe(200);
  });

  test('a bad MORGAN_ADMIN_TOKEN stops start-up with an error naming the variable, not the value', () => {
    const bad = 'tooshort';
    const result = spawnSync(process.execPath, [entry], {
      // It stops before listening, so the default port is never taken.
      env: { PATH: process.env.PATH ?? '', MORGAN_ADMIN_TOKEN: bad },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/cannot start: Invalid value for MORGAN_ADMIN_TOKEN/);
    expect(result.stderr).toContain('16 to 256 characters');
    expect(`${result.stdout}${result.stderr}`).not.toContain(bad);
  });
});
