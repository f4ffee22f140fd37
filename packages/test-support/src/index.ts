// Test resources for the Morgan Sessions suites (server, demo, e2e, bench):
// real ports, a real Redis, a real Redis Cluster, a real Redis Sentinel
// deployment and real server processes,
// each cleaned up by `await using` or `stop()`, never by a name-based kill.

export {
  type AccessLogEntry,
  type NginxServer,
  nginxConfig,
  nginxDefaults,
  type StartNginxOptions,
  startNginx,
} from './nginx.js';
export {
  type NodeProcess,
  type NodeProcessOptions,
  nodeProcessDefaults,
  type ProcessExit,
  startNodeProcess,
} from './node-process.js';
export { freePort } from './ports.js';
export {
  type ClusterNodeAddress,
  parseClusterNodes,
  type RedisTestCluster,
  redisClusterDefaults,
  redisServerVersion,
  type StartRedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.js';
export {
  type RedisTestSentinel,
  redisSentinelDefaults,
  type StartRedisSentinelOptions,
  startRedisSentinel,
} from './redis-sentinel.js';
export {
  deleteKeys,
  ensureRedisServerInstalled,
  type RedisTestServer,
  type StartRedisOptions,
  startRedis,
} from './redis-server.js';
export { establishedConnections } from './tcp-connections.js';
