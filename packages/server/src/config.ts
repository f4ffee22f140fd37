import proxyaddr from 'proxy-addr';
import type { CapacityOptions } from './capacity.js';
import { parseAllowedOrigins } from './cross-origin.js';
import { ConfigError } from './errors.js';
import type { RateLimitPolicy } from './rate-limit.js';

/** Settings read from the environment; each maps to a manager option. */
export interface MorganConfig {
  /** Idle time before a session expires (`MORGAN_SESSION_TIMEOUT`, minutes). */
  sessionTimeoutMs?: number;
  /** Time between expiry sweeps (`MORGAN_CLEANUP_INTERVAL`, seconds). */
  cleanupIntervalMs?: number;
  /** Requests in flight before 503 (`MORGAN_MAX_CONCURRENT`). */
  maxConcurrentRequests?: number;
  /** Requests that may wait for a slot (`MORGAN_MAX_QUEUED_REQUESTS`, 0 or more). */
  maxQueuedRequests?: number;
  /** Longest wait for a slot (`MORGAN_MAX_QUEUE_WAIT_MS`, milliseconds, 0 or more). */
  maxQueueWaitMs?: number;
  /** `MORGAN_CAPACITY_MODE`: `static` (`maxConcurrentRequests`) or `adaptive` (a limit that follows latency). */
  capacity?: CapacityOptions;
  /** Largest serialised metadata (`MORGAN_MAX_METADATA_BYTES`, bytes). */
  maxMetadataBytes?: number;
  /** Deepest nesting in metadata (`MORGAN_MAX_METADATA_DEPTH`, levels). */
  maxMetadataDepth?: number;
  /** Sessions the store may hold (`MORGAN_MAX_SESSIONS`). */
  maxSessions?: number;
  /** Live sessions per user (`MORGAN_MAX_SESSIONS_PER_USER`). */
  maxSessionsPerUser?: number;
  /** SSE streams open at once on the node (`MORGAN_MAX_STREAMS`). */
  maxStreams?: number;
  /** SSE streams per session on the node (`MORGAN_MAX_STREAMS_PER_SESSION`). */
  maxStreamsPerSession?: number;
  /** Longest wait for requests in flight in `stop()` (`MORGAN_DRAIN_TIMEOUT_MS`, milliseconds, 0 or more). */
  drainTimeoutMs?: number;
  /** How long a keyed mutation's outcome is kept (`MORGAN_IDEMPOTENCY_WINDOW_MS`, milliseconds). */
  idempotencyWindowMs?: number;
  /** Sessions per minute per client address (`MORGAN_CREATE_RATE_LIMIT`, or `off`). */
  createRateLimit?: RateLimitPolicy | false;
  /** Requests per minute per session (`MORGAN_REQUEST_RATE_LIMIT`, or `off`). */
  requestRateLimit?: RateLimitPolicy | false;
  /** One Redis (`REDIS_URL=redis://…` or `rediss://…`); beside `redisSentinels`, only its credentials and database count. */
  redisUrl?: string;
  /** Redis Cluster nodes (`REDIS_CLUSTER_NODES=host:port,host:port,…`); wins over `redisUrl`. */
  redisClusterNodes?: string[];
  /**
   * Redis Sentinel processes (`REDIS_SENTINELS=host:port,host:port,…`) that
   * name the current master; wins over `redisUrl`'s host and port, and may
   * not be set with `redisClusterNodes`.
   */
  redisSentinels?: string[];
  /** The master's name at the sentinels (`REDIS_SENTINEL_NAME`, with `REDIS_SENTINELS` only; default `mymaster`). */
  redisSentinelName?: string;
  /**
   * Which proxies to believe for the client address (`MORGAN_TRUST_PROXY`):
   * Express's `trust proxy` setting: `true`, a number of hops, or addresses
   * and subnets (`loopback`, `10.0.0.0/8`, …). Needed behind a load balancer,
   * or every client counts as the balancer's address in the per-address limits.
   */
  trustProxy?: boolean | number | string[];
  /**
   * Other origins whose browser pages may call this server
   * (`MORGAN_ALLOWED_ORIGINS=https://app.example.com,https://admin.example.com`);
   * the manager's `allowedOrigins`.
   */
  allowedOrigins?: string[];
  /** Prefix of every Redis key and channel (`MORGAN_REDIS_PREFIX`); nodes sharing sessions use the same one. */
  redisKeyPrefix?: string;
  /** Port of the demo server (`PORT`). */
  port?: number;
}

interface Variable {
  name: string;
  key: keyof MorganConfig;
  /** Factor from the variable's unit to the option's unit. */
  scale?: number;
  unit: string;
  /** Largest value, in the variable's unit. */
  max?: number;
  /** True when 0 is a value (no queue, no wait); otherwise it must be positive. */
  zero?: boolean;
}

/** Longest delay Node's timers honour, in ms; a longer one would fire after 1 ms. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** The environment variables the loader reads, with their units. */
export const configVariables: readonly Variable[] = [
  { name: 'MORGAN_SESSION_TIMEOUT', key: 'sessionTimeoutMs', scale: 60_000, unit: 'minutes' },
  // Node timers wait at most 2^31 - 1 ms; a longer interval would fire after 1 ms.
  {
    name: 'MORGAN_CLEANUP_INTERVAL',
    key: 'cleanupIntervalMs',
    scale: 1000,
    unit: 'seconds',
    max: 2_147_483,
  },
  { name: 'MORGAN_MAX_CONCURRENT', key: 'maxConcurrentRequests', unit: 'requests' },
  { name: 'MORGAN_MAX_QUEUED_REQUESTS', key: 'maxQueuedRequests', unit: 'requests', zero: true },
  {
    name: 'MORGAN_MAX_QUEUE_WAIT_MS',
    key: 'maxQueueWaitMs',
    unit: 'milliseconds',
    max: MAX_TIMER_DELAY_MS,
    zero: true,
  },
  { name: 'MORGAN_MAX_METADATA_BYTES', key: 'maxMetadataBytes', unit: 'bytes' },
  { name: 'MORGAN_MAX_METADATA_DEPTH', key: 'maxMetadataDepth', unit: 'levels' },
  { name: 'MORGAN_MAX_SESSIONS', key: 'maxSessions', unit: 'sessions' },
  { name: 'MORGAN_MAX_SESSIONS_PER_USER', key: 'maxSessionsPerUser', unit: 'sessions' },
  { name: 'MORGAN_MAX_STREAMS', key: 'maxStreams', unit: 'streams' },
  { name: 'MORGAN_MAX_STREAMS_PER_SESSION', key: 'maxStreamsPerSession', unit: 'streams' },
  {
    name: 'MORGAN_DRAIN_TIMEOUT_MS',
    key: 'drainTimeoutMs',
    unit: 'milliseconds',
    max: MAX_TIMER_DELAY_MS,
    zero: true,
  },
  {
    name: 'MORGAN_IDEMPOTENCY_WINDOW_MS',
    key: 'idempotencyWindowMs',
    unit: 'milliseconds',
    max: MAX_TIMER_DELAY_MS,
  },
  { name: 'PORT', key: 'port', unit: 'port' },
];

/**
 * Reads and validates the `MORGAN_*` variables (plus `PORT`, `REDIS_URL`,
 * `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS` and `REDIS_SENTINEL_NAME`;
 * the numbers of `configVariables` are positive, whole but for minutes and
 * seconds, and may be 0 for `MORGAN_MAX_QUEUED_REQUESTS`,
 * `MORGAN_MAX_QUEUE_WAIT_MS` and `MORGAN_DRAIN_TIMEOUT_MS`;
 * `MORGAN_REDIS_PREFIX` is 1 to 64 letters, digits and `:_.-`;
 * `MORGAN_CREATE_RATE_LIMIT` is sessions per minute per address, or `off`;
 * `MORGAN_CAPACITY_MODE` is `static` or `adaptive`;
 * `MORGAN_ALLOWED_ORIGINS` is a comma-separated list of origins).
 * Unset or empty variables are left out so that option defaults apply.
 *
 * @throws ConfigError naming the variable and the bad value.
 * @example
 * const manager = new SessionManager(loadConfig(process.env));
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): MorganConfig {
  const config: MorganConfig = {};
  for (const variable of configVariables) {
    const raw = env[variable.name];
    if (raw === undefined || raw.trim() === '') continue;
    const value = parseNumber(variable, raw);
    if (variable.max !== undefined && value > variable.max) {
      throw new ConfigError(variable.name, raw, `at most ${variable.max} ${variable.unit}`);
    }
    if (variable.key === 'port' && (!Number.isInteger(value) || value > 65_535)) {
      throw new ConfigError(variable.name, raw, 'an integer port from 1 to 65535');
    }
    config[
      variable.key as Exclude<
        keyof MorganConfig,
        | 'redisUrl'
        | 'redisClusterNodes'
        | 'redisSentinels'
        | 'redisSentinelName'
        | 'redisKeyPrefix'
        | 'createRateLimit'
        | 'requestRateLimit'
        | 'trustProxy'
        | 'capacity'
        | 'allowedOrigins'
      >
    ] = value * (variable.scale ?? 1);
  }
  const createLimit = perMinute(env, 'MORGAN_CREATE_RATE_LIMIT', 'sessions');
  if (createLimit !== undefined) config.createRateLimit = createLimit;
  const requestLimit = perMinute(env, 'MORGAN_REQUEST_RATE_LIMIT', 'requests');
  if (requestLimit !== undefined) config.requestRateLimit = requestLimit;
  const mode = env.MORGAN_CAPACITY_MODE?.trim();
  if (mode !== undefined && mode !== '') {
    if (mode !== 'static' && mode !== 'adaptive') {
      throw new ConfigError('MORGAN_CAPACITY_MODE', mode, 'static or adaptive');
    }
    config.capacity = { mode };
  }
  const redisUrl = env.REDIS_URL;
  if (redisUrl !== undefined && redisUrl.trim() !== '') {
    if (!/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
      throw new ConfigError('REDIS_URL', redisUrl, 'a redis:// or rediss:// URL');
    }
    config.redisUrl = redisUrl;
  }
  const trustProxy = env.MORGAN_TRUST_PROXY?.trim();
  if (trustProxy !== undefined && trustProxy !== '')
    config.trustProxy = parseTrustProxy(trustProxy);
  const origins = env.MORGAN_ALLOWED_ORIGINS;
  if (origins !== undefined && origins.trim() !== '') {
    config.allowedOrigins = parseAllowedOrigins(origins);
  }
  const clusterNodes = env.REDIS_CLUSTER_NODES;
  if (clusterNodes !== undefined && clusterNodes.trim() !== '') {
    try {
      config.redisClusterNodes = parseClusterNodes(clusterNodes);
    } catch {
      throw new ConfigError('REDIS_CLUSTER_NODES', clusterNodes, 'host:port,host:port,…');
    }
  }
  readSentinels(env, config);
  const prefix = env.MORGAN_REDIS_PREFIX;
  if (prefix !== undefined && prefix.trim() !== '') {
    if (!REDIS_PREFIX.test(prefix)) {
      throw new ConfigError('MORGAN_REDIS_PREFIX', prefix, '1 to 64 letters, digits or :_.-');
    }
    config.redisKeyPrefix = prefix;
  }
  return config;
}

/**
 * `REDIS_SENTINELS` and `REDIS_SENTINEL_NAME` (letters, digits and `._:-`,
 * `mymaster` by default), refused beside `REDIS_CLUSTER_NODES`: one
 * deployment is either a Cluster or a master watched by sentinels.
 */
function readSentinels(env: Record<string, string | undefined>, config: MorganConfig): void {
  const sentinels = env.REDIS_SENTINELS;
  const name = env.REDIS_SENTINEL_NAME;
  const hasName = name !== undefined && name.trim() !== '';
  if (sentinels === undefined || sentinels.trim() === '') {
    if (hasName)
      throw new ConfigError('REDIS_SENTINEL_NAME', name, 'set only with REDIS_SENTINELS');
    return;
  }
  if (config.redisClusterNodes !== undefined) {
    throw new ConfigError(
      'REDIS_SENTINELS',
      sentinels,
      'unset when REDIS_CLUSTER_NODES is set (a Cluster has no sentinels)',
    );
  }
  try {
    config.redisSentinels = parseClusterNodes(sentinels);
  } catch {
    throw new ConfigError('REDIS_SENTINELS', sentinels, 'host:port,host:port,…');
  }
  if (hasName) {
    const trimmed = name.trim();
    if (!SENTINEL_NAME.test(trimmed)) {
      throw new ConfigError('REDIS_SENTINEL_NAME', name, '1 to 64 letters, digits or ._:-');
    }
    config.redisSentinelName = trimmed;
  }
}

const SENTINEL_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

/** A per-minute rate limit from `name` (a positive whole number, or `off`); undefined when unset. */
function perMinute(
  env: NodeJS.ProcessEnv,
  name: string,
  what: string,
): RateLimitPolicy | false | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'off') return false;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new ConfigError(name, raw, `a positive whole number of ${what} per minute, or off`);
  }
  return { limit, windowMs: 60_000 };
}

/** `MORGAN_TRUST_PROXY`: `true` / `false`, a number of hops, or a comma list that proxy-addr accepts. */
function parseTrustProxy(raw: string): boolean | number | string[] {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  const list = raw.split(',').map((item) => item.trim());
  try {
    proxyaddr.compile(list);
  } catch {
    throw new ConfigError(
      'MORGAN_TRUST_PROXY',
      raw,
      'true, false, a number of hops, or addresses and subnets (loopback, 10.0.0.0/8, …)',
    );
  }
  return list;
}

const REDIS_PREFIX = /^[A-Za-z0-9:_.-]{1,64}$/;

/** The variable's number: positive (or 0 when it may be), whole but for minutes and seconds. */
function parseNumber({ name, unit, zero = false }: Variable, raw: string): number {
  const text = raw.trim();
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  // The variables that may be 0 all count whole things (requests, milliseconds).
  const zeroOrMore = `a whole number of ${unit}, 0 or more`;
  if (!Number.isFinite(value) || (value <= 0 && !zero)) {
    throw new ConfigError(name, raw, zero ? zeroOrMore : `a positive number of ${unit}`);
  }
  if (unit !== 'minutes' && unit !== 'seconds' && !Number.isInteger(value)) {
    throw new ConfigError(name, raw, zero ? zeroOrMore : `a positive whole number of ${unit}`);
  }
  return value;
}

/** Parses `host:port,host:port,…` (as in `REDIS_CLUSTER_NODES` and `REDIS_SENTINELS`); throws on a malformed entry. */
export function parseClusterNodes(text: string): string[] {
  const nodes = text
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node.length > 0);
  for (const node of nodes) {
    const port = Number(node.slice(node.lastIndexOf(':') + 1));
    if (node.lastIndexOf(':') <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new Error(`expected host:port, got "${node}"`);
    }
  }
  if (nodes.length === 0) throw new Error('expected at least one host:port');
  return nodes;
}
