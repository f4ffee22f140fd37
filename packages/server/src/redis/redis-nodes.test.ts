// Several nodes on one Redis (nodes.test-suite.ts; cluster.test.ts runs the
// same tests on a Redis Cluster).
import { randomBytes } from 'node:crypto';
import { type RedisTestServer, startRedis } from '@morgan/test-support';
import { afterAll, beforeAll } from 'vitest';
import { describeRedisNodes } from './nodes.test-suite.js';

let redis: RedisTestServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describeRedisNodes('one Redis', () => ({
  connection: { url: redis.url },
  keyPrefix: `${redis.keyPrefix}${randomBytes(4).toString('hex')}:`,
}));
