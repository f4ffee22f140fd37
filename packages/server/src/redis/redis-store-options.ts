import type { RedisConnectionOptions } from './connection-options.js';

/** Options of a `RedisStore`. */
export interface RedisStoreOptions extends RedisConnectionOptions {
  /** This node's id; events it publishes are not delivered back to it. @default crypto.randomUUID() */
  nodeId?: string;
  /**
   * Extra life of an idle session's key past the session timeout, in ms. Redis
   * frees the key after `sessionTimeoutMs + ttlGraceMs` even when no node
   * sweeps; keep it above the cleanup interval so a sweep announces each expiry.
   * @default 600_000 (10 min)
   */
  ttlGraceMs?: number;
  /** Sessions removed per sweep script call (one call per batch). @default 1_000 */
  sweepBatchSize?: number;
  /**
   * Life of this node's lease, in ms, re-armed every third of it while the
   * node runs. When a node dies (kill -9, frozen) with requests in flight or
   * sockets open, the first sweep after its lease lapses, on any node, undoes
   * those pins, so its sessions expire again and counts are right.
   * @default 15_000
   */
  leaseMs?: number;
  /**
   * Touch coalescing, in ms. When this node wrote a session's `lastActivity`
   * (by a touch, a request, a connection or `create`) less than this long
   * before, `touch(id, now)` only reads the session (one HMGET, as `get`
   * does, expiry checked here) and writes nothing; otherwise it runs the
   * touch script. Most touches of a busy session then cost a plain read
   * instead of a script with writes.
   *
   * The trade-off: `lastActivity` in Redis, and in the record a coalesced
   * touch returns, may lag the last touch by up to this much, so an idle
   * session may expire up to this much early. The WebSocket layer already
   * throttles its touches to one per `touchIntervalMs` (1 s) for the same
   * reason. `0` runs the script on every touch.
   * @default 1_000
   */
  touchResolutionMs?: number;
}

export const redisStoreDefaults = {
  url: 'redis://127.0.0.1:6379',
  sentinelName: 'mymaster',
  keyPrefix: 'morgan:',
  commandTimeoutMs: 1_000,
  ttlGraceMs: 10 * 60 * 1000,
  sweepBatchSize: 1_000,
  leaseMs: 15_000,
  touchResolutionMs: 1_000,
} as const;
