import { describe, expect, it } from 'vitest';
import { configVariables, loadConfig } from './config.js';
import { ConfigError, ErrorCode } from './errors.js';
import { SessionManager, sessionManagerDefaults } from './manager.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it.each(['abc', '-1', '0', '0.0', '1e3', '', ' '])(
    'MORGAN_SESSION_TIMEOUT=%j fails naming the variable and value, or is left unset',
    (value) => {
      if (value.trim() === '') {
        expect(loadConfig({ MORGAN_SESSION_TIMEOUT: value })).toEqual({});
        return;
      }
      const error = configError({ MORGAN_SESSION_TIMEOUT: value });
      expect(error.code).toBe(ErrorCode.INVALID_CONFIG);
      expect(error.variable).toBe('MORGAN_SESSION_TIMEOUT');
      expect(error.value).toBe(value);
      expect(error.message).toContain('MORGAN_SESSION_TIMEOUT');
      expect(error.message).toContain(JSON.stringify(value));
    },
  );

  it.each([
    ['MORGAN_CLEANUP_INTERVAL', 'soon'],
    ['MORGAN_CLEANUP_INTERVAL', '-5'],
    ['MORGAN_MAX_CONCURRENT', '0'],
    ['MORGAN_MAX_CONCURRENT', '2.5'],
    ['MORGAN_MAX_METADATA_BYTES', '1.5'],
    ['MORGAN_IDEMPOTENCY_WINDOW_MS', '0'],
    ['MORGAN_IDEMPOTENCY_WINDOW_MS', '2.5'],
    ['MORGAN_IDEMPOTENCY_WINDOW_MS', 'soon'],
    ['MORGAN_IDEMPOTENCY_WINDOW_MS', '2147483648'],
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_CLUSTER_NODES', 'localhost'],
    ['MORGAN_TRUST_PROXY', 'not-an-address'],
    ['MORGAN_TRUST_PROXY', '10.0.0.0/99'],
    ['REDIS_CLUSTER_NODES', '127.0.0.1:7000,:7001'],
    ['REDIS_CLUSTER_NODES', '127.0.0.1:99999'],
    ['REDIS_CLUSTER_NODES', ','],
    ['REDIS_SENTINELS', 'sentinel-1'],
    ['REDIS_SENTINELS', '10.0.0.1:26379,10.0.0.2'],
    ['REDIS_SENTINELS', '10.0.0.1:0'],
    ['REDIS_SENTINELS', ' , '],
    ['REDIS_URL', 'http://example'],
    ['MORGAN_REDIS_PREFIX', 'has space:'],
    ['MORGAN_REDIS_PREFIX', 'star*'],
    ['MORGAN_REDIS_PREFIX', 'x'.repeat(65)],
    ['MORGAN_CREATE_RATE_LIMIT', '0'],
    ['MORGAN_CREATE_RATE_LIMIT', '2.5'],
    ['MORGAN_CREATE_RATE_LIMIT', 'lots'],
    ['MORGAN_REQUEST_RATE_LIMIT', '0'],
    ['MORGAN_REQUEST_RATE_LIMIT', 'many'],
    ['MORGAN_MAX_METADATA_DEPTH', '0'],
    ['MORGAN_MAX_METADATA_DEPTH', '2.5'],
    ['MORGAN_MAX_SESSIONS', '-1'],
    ['MORGAN_MAX_SESSIONS', 'lots'],
    ['MORGAN_MAX_SESSIONS_PER_USER', '0'],
    ['MORGAN_MAX_STREAMS', '1e4'],
    ['MORGAN_MAX_STREAMS_PER_SESSION', '0'],
    ['MORGAN_MAX_QUEUED_REQUESTS', '-3'],
    ['MORGAN_MAX_QUEUED_REQUESTS', '0.5'],
    ['MORGAN_MAX_QUEUE_WAIT_MS', 'soon'],
    ['MORGAN_MAX_QUEUE_WAIT_MS', '2147483648'],
    ['MORGAN_DRAIN_TIMEOUT_MS', '-1'],
    ['MORGAN_DRAIN_TIMEOUT_MS', '1.5'],
    ['MORGAN_DRAIN_TIMEOUT_MS', '2147483648'],
  ])('%s=%s fails naming the variable and value', (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.value).toBe(value);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(value);
  });

  it('reads MORGAN_TRUST_PROXY as Express reads trust proxy', () => {
    expect(loadConfig({ MORGAN_TRUST_PROXY: 'true' })).toEqual({ trustProxy: true });
    expect(loadConfig({ MORGAN_TRUST_PROXY: '2' })).toEqual({ trustProxy: 2 });
    expect(loadConfig({ MORGAN_TRUST_PROXY: 'loopback, 10.0.0.0/8' })).toEqual({
      trustProxy: ['loopback', '10.0.0.0/8'],
    });
  });

  it('reads MORGAN_ALLOWED_ORIGINS as a list of origins, refusing anything else', () => {
    expect(
      loadConfig({ MORGAN_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173' }),
    ).toEqual({ allowedOrigins: ['https://app.example.com', 'http://localhost:5173'] });
    for (const bad of ['app.example.com', 'https://app.example.com/path', 'ftp://x.example', '*']) {
      const error = configError({ MORGAN_ALLOWED_ORIGINS: `https://ok.example,${bad}` });
      expect(error.variable).toBe('MORGAN_ALLOWED_ORIGINS');
      expect(error.value).toBe(bad);
    }
    expect(() => new SessionManager({ allowedOrigins: ['https://a.example/'] })).not.toThrow();
    expect(() => new SessionManager({ allowedOrigins: ['a.example'] })).toThrow(ConfigError);
  });

  it('reads REDIS_CLUSTER_NODES as a list of host:port', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-2:7001 ,[::1]:7002' })).toEqual(
      {
        redisClusterNodes: ['10.0.0.1:7000', 'redis-2:7001', '[::1]:7002'],
      },
    );
  });

  it('reads REDIS_SENTINELS as a list of host:port and REDIS_SENTINEL_NAME beside it', () => {
    expect(loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379, sentinel-2:26379,[::1]:26379' })).toEqual(
      { redisSentinels: ['10.0.0.1:26379', 'sentinel-2:26379', '[::1]:26379'] },
    );
    expect(
      loadConfig({
        REDIS_SENTINELS: '10.0.0.1:26379',
        REDIS_SENTINEL_NAME: ' sessions-1 ',
        REDIS_URL: 'redis://:secret@ignored:6379/2',
        MORGAN_REDIS_PREFIX: 'app:',
      }),
    ).toEqual({
      redisSentinels: ['10.0.0.1:26379'],
      redisSentinelName: 'sessions-1',
      redisUrl: 'redis://:secret@ignored:6379/2',
      redisKeyPrefix: 'app:',
    });
    expect(loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_NAME: '' })).toEqual({
      redisSentinels: ['10.0.0.1:26379'],
    });
  });

  it('refuses a bad REDIS_SENTINEL_NAME, one without REDIS_SENTINELS, and Sentinel beside Cluster', () => {
    for (const name of ['my master', 'star*', 'x'.repeat(65)]) {
      const error = configError({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: name });
      expect(error.variable).toBe('REDIS_SENTINEL_NAME');
      expect(error.value).toBe(name);
      expect(error.message).toContain(JSON.stringify(name));
    }
    const alone = configError({ REDIS_SENTINEL_NAME: 'mymaster' });
    expect(alone.variable).toBe('REDIS_SENTINEL_NAME');
    expect(alone.message).toContain('REDIS_SENTINELS');
    const both = configError({
      REDIS_SENTINELS: '127.0.0.1:26379',
      REDIS_CLUSTER_NODES: '127.0.0.1:7000',
    });
    expect(both.variable).toBe('REDIS_SENTINELS');
    expect(both.value).toBe('127.0.0.1:26379');
    expect(both.message).toContain('REDIS_CLUSTER_NODES');
  });

  it('never puts a REDIS_URL password in the error, which is logged', () => {
    const error = configError({ REDIS_URL: 'redis://:hunter2@db host:6379' });
    expect(error.message).toContain('REDIS_URL');
    expect(error.message).toContain('redis://:***@db host:6379');
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error.value)).not.toContain('hunter2');
  });

  it('reads MORGAN_REQUEST_RATE_LIMIT as requests per minute per session, or off', () => {
    expect(loadConfig({ MORGAN_REQUEST_RATE_LIMIT: '1200' })).toEqual({
      requestRateLimit: { limit: 1200, windowMs: 60_000 },
    });
    expect(loadConfig({ MORGAN_REQUEST_RATE_LIMIT: 'off' })).toEqual({ requestRateLimit: false });
  });

  it('reads MORGAN_CREATE_RATE_LIMIT as sessions per minute per address, or off', () => {
    expect(loadConfig({ MORGAN_CREATE_RATE_LIMIT: '120' })).toEqual({
      createRateLimit: { limit: 120, windowMs: 60_000 },
    });
    expect(loadConfig({ MORGAN_CREATE_RATE_LIMIT: 'off' })).toEqual({ createRateLimit: false });
  });

  it('reads MORGAN_CAPACITY_MODE as static or adaptive', () => {
    expect(loadConfig({ MORGAN_CAPACITY_MODE: 'adaptive' })).toEqual({
      capacity: { mode: 'adaptive' },
    });
    expect(loadConfig({ MORGAN_CAPACITY_MODE: ' static ' })).toEqual({
      capacity: { mode: 'static' },
    });
    const error = configError({ MORGAN_CAPACITY_MODE: 'fast' });
    expect(error.variable).toBe('MORGAN_CAPACITY_MODE');
    expect(new SessionManager(loadConfig({ MORGAN_CAPACITY_MODE: 'adaptive' })).capacity.mode).toBe(
      'adaptive',
    );
  });

  it('converts units to milliseconds', () => {
    expect(
      loadConfig({
        MORGAN_SESSION_TIMEOUT: '30',
        MORGAN_CLEANUP_INTERVAL: '60',
        MORGAN_MAX_CONCURRENT: '50',
        MORGAN_MAX_METADATA_BYTES: '2048',
        MORGAN_IDEMPOTENCY_WINDOW_MS: '60000',
        PORT: '3001',
        REDIS_URL: 'redis://127.0.0.1:6379/0',
        MORGAN_REDIS_PREFIX: 'demo-1.test:',
      }),
    ).toEqual({
      sessionTimeoutMs: 1_800_000,
      cleanupIntervalMs: 60_000,
      maxConcurrentRequests: 50,
      maxMetadataBytes: 2048,
      idempotencyWindowMs: 60_000,
      port: 3001,
      redisUrl: 'redis://127.0.0.1:6379/0',
      redisKeyPrefix: 'demo-1.test:',
    });
  });

  it('accepts fractions of minutes and seconds, and surrounding spaces', () => {
    expect(loadConfig({ MORGAN_SESSION_TIMEOUT: ' 0.5 ', MORGAN_CLEANUP_INTERVAL: '1.5' })).toEqual(
      {
        sessionTimeoutMs: 30_000,
        cleanupIntervalMs: 1500,
      },
    );
  });

  it('leaves unset and empty variables out so that defaults apply', () => {
    expect(loadConfig({})).toEqual({});
    expect(
      loadConfig({ MORGAN_MAX_CONCURRENT: '', REDIS_URL: '  ', MORGAN_REDIS_PREFIX: '' }),
    ).toEqual({});
    const manager = new SessionManager(loadConfig({}));
    expect(manager.sessionTimeoutMs).toBe(3_600_000);
  });

  it('feeds a SessionManager', () => {
    const manager = new SessionManager(
      loadConfig({
        MORGAN_SESSION_TIMEOUT: '2',
        MORGAN_CLEANUP_INTERVAL: '5',
        MORGAN_MAX_CONCURRENT: '7',
      }),
    );
    expect(manager).toMatchObject({
      sessionTimeoutMs: 120_000,
      cleanupIntervalMs: 5000,
      maxConcurrentRequests: 7,
    });
  });

  it('rejects a cleanup interval longer than Node timers can wait', () => {
    const error = configError({ MORGAN_CLEANUP_INTERVAL: '2147484' });
    expect(error.variable).toBe('MORGAN_CLEANUP_INTERVAL');
    expect(loadConfig({ MORGAN_CLEANUP_INTERVAL: '2147483' }).cleanupIntervalMs).toBe(
      2_147_483_000,
    );
  });

  it('reads process.env by default', () => {
    const saved = process.env.MORGAN_MAX_CONCURRENT;
    process.env.MORGAN_MAX_CONCURRENT = '9';
    try {
      expect(loadConfig().maxConcurrentRequests).toBe(9);
    } finally {
      if (saved === undefined) delete process.env.MORGAN_MAX_CONCURRENT;
      else process.env.MORGAN_MAX_CONCURRENT = saved;
    }
  });
});

describe('loadConfig: limits, queue and drain', () => {
  it('reads each as a whole number in the unit of its option', () => {
    expect(
      loadConfig({
        MORGAN_MAX_METADATA_DEPTH: '8',
        MORGAN_MAX_SESSIONS: '5000',
        MORGAN_MAX_SESSIONS_PER_USER: ' 3 ',
        MORGAN_MAX_STREAMS: '200',
        MORGAN_MAX_STREAMS_PER_SESSION: '2',
        MORGAN_MAX_QUEUED_REQUESTS: '50',
        MORGAN_MAX_QUEUE_WAIT_MS: '250',
        MORGAN_DRAIN_TIMEOUT_MS: '30000',
      }),
    ).toEqual({
      maxMetadataDepth: 8,
      maxSessions: 5000,
      maxSessionsPerUser: 3,
      maxStreams: 200,
      maxStreamsPerSession: 2,
      maxQueuedRequests: 50,
      maxQueueWaitMs: 250,
      drainTimeoutMs: 30_000,
    });
  });

  it('accepts 0 where the option means none: no queue, no wait, no drain', () => {
    const config = loadConfig({
      MORGAN_MAX_QUEUED_REQUESTS: '0',
      MORGAN_MAX_QUEUE_WAIT_MS: '0',
      MORGAN_DRAIN_TIMEOUT_MS: '0',
    });
    expect(config).toEqual({ maxQueuedRequests: 0, maxQueueWaitMs: 0, drainTimeoutMs: 0 });
    expect(new SessionManager(config).drainTimeoutMs).toBe(0);
  });

  it('feeds a SessionManager', () => {
    const manager = new SessionManager(
      loadConfig({
        MORGAN_MAX_METADATA_DEPTH: '4',
        MORGAN_MAX_SESSIONS: '10',
        MORGAN_MAX_SESSIONS_PER_USER: '2',
        MORGAN_MAX_STREAMS: '20',
        MORGAN_MAX_STREAMS_PER_SESSION: '1',
        MORGAN_MAX_QUEUED_REQUESTS: '5',
        MORGAN_MAX_QUEUE_WAIT_MS: '100',
        MORGAN_DRAIN_TIMEOUT_MS: '500',
      }),
    );
    expect(manager).toMatchObject({
      maxMetadataDepth: 4,
      maxSessions: 10,
      maxSessionsPerUser: 2,
      drainTimeoutMs: 500,
    });
    expect(manager.streams).toMatchObject({ maxStreams: 20, maxStreamsPerSession: 1 });
    expect(manager.capacity).toMatchObject({ maxQueue: 5, maxQueueWaitMs: 100 });
  });

  it('has a variable for every manager option with a default', () => {
    const env = Object.fromEntries(configVariables.map(({ name }) => [name, '1']));
    const config = loadConfig({
      ...env,
      MORGAN_CREATE_RATE_LIMIT: '1',
      MORGAN_REQUEST_RATE_LIMIT: '1',
      MORGAN_ALLOWED_ORIGINS: 'https://app.example.com',
    });
    const without = Object.keys(sessionManagerDefaults).filter((option) => !(option in config));
    expect(without).toEqual([]);
  });
});
