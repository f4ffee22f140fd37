/**
 * The Redis store and event log (ioredis 5, an optional peer dependency), for
 * many nodes sharing sessions, expiry, counts and events.
 *
 * @module \@morgan/session-server/redis
 */
export type { RedisConnectionOptions } from './connection-options.js';
export { RedisEventLog, type RedisEventLogOptions, redisEventLogDefaults } from './event-log.js';
export { RedisStore, type RedisStoreOptions, redisStoreDefaults } from './redis-store.js';
