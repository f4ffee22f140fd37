export { RedisStore, type RedisStoreOptions, redisStoreDefaults } from './redis-store.js';
