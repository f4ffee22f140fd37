import { StoreUnavailableError } from '../errors.js';
import { checkEventType, encodeEventData, positiveOption } from '../events/event-input.js';
import {
  compareEventIds,
  type EventLog,
  type EventLogOptions,
  type EventLogSettings,
  eventLogDefaults,
  parseEventId,
  type ReadAfterResult,
  type SessionEvent,
  type SessionEventListener,
} from '../events/event-log.js';
import type { JsonValue } from '../metadata.js';
import { isCluster, StoreConnection, withTimeout } from './connection.js';
import type { RedisConnectionOptions } from './connection-options.js';
import { type EventLogScriptName, eventLogScripts } from './event-log-scripts.js';
import { KeyLayout } from './key-layout.js';
import { LiveEvents } from './live-events.js';

/** Options of a `RedisEventLog`. */
export interface RedisEventLogOptions extends EventLogOptions, RedisConnectionOptions {
  /**
   * Life of a session's keys after its last append or read, in ms, so a
   * session whose node never called `drop` (it crashed) is freed by Redis.
   * The manager raises it to its session timeout + 10 min (`configure`).
   * @default 4_200_000 (70 min: the default session timeout + 10 min)
   */
  keyTtlMs?: number;
}

export const redisEventLogDefaults = {
  url: 'redis://127.0.0.1:6379',
  sentinelName: 'mymaster',
  keyPrefix: 'morgan:',
  commandTimeoutMs: 1_000,
  keyTtlMs: 70 * 60 * 1000,
} as const;

/** Least wait for a subscription's acknowledgement, in ms (see `readAfter`). */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/** Extra life of a session's event keys past the session timeout, in ms. */
const TTL_GRACE_MS = 10 * 60 * 1000;

type Entry = [id: string, fields: string[]];
type ReadReply = [first: string, lost: string | null, entries: Entry[]] | null;

/**
 * The event log in Redis, so every node reads the same replay buffer: a
 * client that reconnects to another node resumes its stream there. One
 * stream per session capped by count and age; `append` is one script (id,
 * buffer, trim, `PUBLISH`), `readAfter` one script, `drop` one `DEL`. Live
 * events reach subscribers on any node over one pub/sub connection per node
 * (a channel per session with subscribers on that node).
 *
 * After the pub/sub connection was lost, events appended meanwhile are
 * fetched from the buffer and delivered (subscribers may see an event twice
 * then, or the whole buffer if they had none yet: compare ids, as
 * `streamSessionEvents` does).
 *
 * @example
 * const manager = new SessionManager({
 *   store: new RedisStore({ url }),
 *   eventLog: new RedisEventLog({ url }),
 * });
 */
export class RedisEventLog implements EventLog {
  readonly name = 'redis';
  readonly keyPrefix: string;
  readonly maxEvents: number;
  readonly maxAgeMs: number;
  readonly maxEventBytes: number;
  readonly #now: () => number;
  readonly #connection: StoreConnection<EventLogScriptName>;
  readonly #commandTimeoutMs: number;
  /** Longest wait for a SUBSCRIBE to be acknowledged: a busy node answers it late. */
  readonly #subscribeTimeoutMs: number;
  readonly #live: LiveEvents;
  readonly #keys: KeyLayout;
  /** PUBLISH on one Redis, SPUBLISH (sharded, to the stream's shard only) on a cluster. */
  readonly #publish: 'PUBLISH' | 'SPUBLISH';
  #keyTtlMs: number;
  #closed = false;

  constructor(options: RedisEventLogOptions = {}) {
    this.keyPrefix = options.keyPrefix ?? redisEventLogDefaults.keyPrefix;
    this.maxEvents = positiveOption('maxEvents', options.maxEvents ?? eventLogDefaults.maxEvents);
    this.maxAgeMs = positiveOption('maxAgeMs', options.maxAgeMs ?? eventLogDefaults.maxAgeMs);
    this.maxEventBytes = positiveOption(
      'maxEventBytes',
      options.maxEventBytes ?? eventLogDefaults.maxEventBytes,
    );
    this.#keyTtlMs = Math.max(
      this.maxAgeMs,
      positiveOption('keyTtlMs', options.keyTtlMs ?? redisEventLogDefaults.keyTtlMs),
    );
    this.#now = options.now ?? Date.now;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? redisEventLogDefaults.commandTimeoutMs;
    this.#subscribeTimeoutMs = Math.max(this.#commandTimeoutMs, SUBSCRIBE_TIMEOUT_MS);
    this.#connection = new StoreConnection({
      url: options.url ?? redisEventLogDefaults.url,
      redis: options.redis,
      clusterNodes: options.clusterNodes,
      cluster: options.cluster,
      sentinels: options.sentinels,
      sentinelName: options.sentinelName ?? redisEventLogDefaults.sentinelName,
      client: options.client,
      commandTimeoutMs: this.#commandTimeoutMs,
      scripts: eventLogScripts,
    });
    this.#keys = new KeyLayout(this.keyPrefix);
    this.#publish = isCluster(this.#connection.client) ? 'SPUBLISH' : 'PUBLISH';
    this.#live = new LiveEvents(this.#connection.client, {
      channelOf: (sessionId) => this.#keys.eventChannel(sessionId),
      read: (sessionId, lastEventId) => this.#read(sessionId, lastEventId),
    });
  }

  configure(settings: EventLogSettings): void {
    this.#keyTtlMs = Math.max(this.#keyTtlMs, Math.ceil(settings.sessionTimeoutMs + TTL_GRACE_MS));
  }

  async append<TData extends JsonValue>(
    sessionId: string,
    type: string,
    data: TData,
  ): Promise<SessionEvent<TData>> {
    checkEventType(type);
    const json = encodeEventData(data, this.maxEventBytes);
    const now = Math.floor(this.#now());
    const id = await this.#run(
      'morganEventAppend',
      this.#streamKey(sessionId),
      this.#metaKey(sessionId),
      now,
      this.#cutoff(now),
      this.maxEvents,
      this.#keyTtlMs,
      this.#live.channelOf(sessionId),
      type,
      JSON.stringify(type),
      json,
      this.#publish,
    );
    return { id: String(id), type, data: JSON.parse(json) as TData, at: now };
  }

  async readAfter(sessionId: string, lastEventId?: string): Promise<ReadAfterResult> {
    // A subscription made just before must be live, or events could fall
    // between this read and the first live one.
    await withTimeout(this.#live.acknowledged(sessionId), this.#subscribeTimeoutMs, () => {
      throw new StoreUnavailableError('Redis did not acknowledge the events subscription');
    }).catch((error: unknown) => {
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError('Redis refused the events subscription', { cause: error });
    });
    return this.#read(sessionId, lastEventId);
  }

  subscribe(sessionId: string, listener: SessionEventListener, onDrop?: () => void): () => void {
    if (this.#closed) throw new StoreUnavailableError('RedisEventLog is closed');
    return this.#live.subscribe(sessionId, listener, onDrop);
  }

  async drop(sessionId: string): Promise<void> {
    this.#live.drop(sessionId);
    // Both keys carry the session's hash tag: one DEL, one slot.
    await this.#connection.call(() =>
      this.#connection.client.del(this.#streamKey(sessionId), this.#metaKey(sessionId)),
    );
  }

  /** Resolves when Redis answers; rejects with `StoreUnavailableError` otherwise. */
  async ping(): Promise<void> {
    await this.#connection.call(() => this.#connection.client.ping());
  }

  /** Closes the log's connections (not a client passed in `options.client`). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#live.close(), this.#connection.close()]);
  }

  /** Sessions with subscribers on this node, for tests and metrics. */
  get subscribedSessionCount(): number {
    return this.#live.size;
  }

  async #read(sessionId: string, lastEventId: string | undefined): Promise<ReadAfterResult> {
    const valid = lastEventId !== undefined && parseEventId(lastEventId) !== undefined;
    const now = Math.floor(this.#now());
    const reply = (await this.#run(
      'morganEventReadAfter',
      this.#streamKey(sessionId),
      this.#metaKey(sessionId),
      this.#cutoff(now),
      this.maxEvents,
      this.#keyTtlMs,
      valid ? lastEventId : '',
    )) as ReadReply;
    if (reply === null) return { events: [], gap: lastEventId !== undefined };
    const [first, lost, entries] = reply;
    const events = entries.map(toEvent);
    if (lastEventId === undefined) return { events, gap: false };
    const gap =
      !valid ||
      compareEventIds(lastEventId, first) < 0 ||
      (lost !== null && compareEventIds(lastEventId, lost) < 0);
    const result: ReadAfterResult = { events, gap };
    if (gap && lost !== null) result.lostThroughId = lost;
    return result;
  }

  /** Events whose id time is before this are past `maxAgeMs`. */
  #cutoff(now: number): number {
    return Math.max(0, now - this.maxAgeMs);
  }

  #streamKey(sessionId: string): string {
    return this.#keys.eventStream(sessionId);
  }

  #metaKey(sessionId: string): string {
    return this.#keys.eventMeta(sessionId);
  }

  #run(name: EventLogScriptName, ...args: (string | number)[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('RedisEventLog is closed'));
    return this.#connection.run(name, ...args);
  }
}

/** A stream entry `[id, [t, type, d, json, a, at]]` as an event. */
function toEvent([id, fields]: Entry): SessionEvent {
  const values: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2)
    values[fields[i] as string] = fields[i + 1] as string;
  return {
    id,
    type: values.t ?? '',
    data: JSON.parse(values.d ?? 'null') as JsonValue,
    at: Number(values.a),
  };
}
