export { RedisEventLog, type RedisEventLogOptions, redisEventLogDefaults } from './event-log.js';
export { RedisStore, type RedisStoreOptions, redisStoreDefaults } from './redis-store.js';
