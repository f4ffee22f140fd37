import { fileURLToPath } from 'node:url';
import {
  type NginxServer,
  type NodeProcess,
  type NodeProcessOptions,
  type RedisTestServer,
  type StartNginxOptions,
  startNginx,
  startNodeProcess,
  startRedis,
} from '@morgan/test-support';
import { test as base } from '@playwright/test';
import { adminToken } from './admin-api.js';

/** The built demo server (`npm test` builds it through turbo before the suite). */
export const demoServerEntry = fileURLToPath(
  new URL('../../apps/demo/dist/server.js', import.meta.url),
);

/** Options of `resources.demo`: those of `startNodeProcess` but the entry. */
export type DemoOptions = Omit<NodeProcessOptions, 'entry'>;

/** Per-test resources; everything started through them is stopped after the test. */
export interface Resources {
  /**
   * Starts a demo node (`node apps/demo/dist/server.js`) on a free port, with
   * `MORGAN_ADMIN_TOKEN` set to `adminToken` unless `env` sets it.
   */
  demo(options?: DemoOptions): Promise<NodeProcess>;
  /**
   * A Redis: `REDIS_URL` when set, else a private `redis-server`; its `env`
   * gives the nodes a `MORGAN_REDIS_PREFIX` of their own.
   */
  redis(): Promise<RedisTestServer>;
  /**
   * A real nginx in front of demo nodes: round robin without sticky
   * sessions (WebSocket upgrades take turns of their own), as in production.
   */
  nginx(
    nodes: readonly NodeProcess[],
    options?: Omit<StartNginxOptions, 'upstreams'>,
  ): Promise<NginxServer>;
}

export const test = base.extend<{ resources: Resources }>({
  // Playwright reads fixture dependencies from the destructuring pattern, so it must stay.
  // biome-ignore lint/correctness/noEmptyPattern: required by Playwright's fixture syntax
  resources: async ({}, use, testInfo) => {
    const started: AsyncDisposable[] = [];
    const demos: NodeProcess[] = [];
    await use({
      async demo(options = {}) {
        const env = { NODE_ENV: 'production', MORGAN_ADMIN_TOKEN: adminToken, ...options.env };
        const server = await startNodeProcess({ ...options, entry: demoServerEntry, env });
        started.push(server);
        demos.push(server);
        return server;
      },
      async redis() {
        const redis = await startRedis({ namespace: 'morgan-e2e' });
        started.push(redis);
        return redis;
      },
      async nginx(nodes, options = {}) {
        const nginx = await startNginx({
          ...options,
          upstreams: nodes.map((node) => `127.0.0.1:${node.port}`),
        });
        started.push(nginx);
        return nginx;
      },
    });
    if (testInfo.status !== testInfo.expectedStatus) {
      for (const server of demos) {
        await testInfo.attach(`${server.name}.log`, {
          body: server.output,
          contentType: 'text/plain',
        });
      }
    }
    // Stop in reverse order: nginx, then nodes, then Redis.
    for (const resource of started.reverse()) await resource[Symbol.asyncDispose]();
  },
});

export { expect } from '@playwright/test';
