import { test as base } from '@playwright/test';
import { type Backend, type Balancer, startBalancer } from './balancer.js';
import { type DemoServer, type DemoServerOptions, startDemo } from './demo-server.js';
import { type E2eRedis, startRedis } from './redis.js';

/** Per-test resources; everything started through them is stopped after the test. */
export interface Resources {
  /** Starts a demo node (`node apps/demo/dist/server.js`) on a free port. */
  demo(options?: DemoServerOptions): Promise<DemoServer>;
  /** A Redis: `REDIS_URL` when set, else a private `redis-server`. */
  redis(): Promise<E2eRedis>;
  /** A round-robin TCP balancer in front of demo nodes. */
  balancer(backends: readonly Backend[]): Promise<Balancer>;
}

export const test = base.extend<{ resources: Resources }>({
  // Playwright reads fixture dependencies from the destructuring pattern, so it must stay.
  // biome-ignore lint/correctness/noEmptyPattern: required by Playwright's fixture syntax
  resources: async ({}, use, testInfo) => {
    const started: AsyncDisposable[] = [];
    const demos: DemoServer[] = [];
    await use({
      async demo(options) {
        const server = await startDemo(options);
        started.push(server);
        demos.push(server);
        return server;
      },
      async redis() {
        const redis = await startRedis();
        started.push(redis);
        return redis;
      },
      async balancer(backends) {
        const balancer = await startBalancer(backends);
        started.push(balancer);
        return balancer;
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
    // Stop in reverse order: balancer, then nodes, then Redis.
    for (const resource of started.reverse()) await resource[Symbol.asyncDispose]();
  },
});

export { expect } from '@playwright/test';
