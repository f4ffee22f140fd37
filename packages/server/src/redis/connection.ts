import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { ErrorCode, MorganError, StoreUnavailableError } from '../errors.js';
import { toStoreError } from './records.js';

/** A Lua script defined on the connection as an ioredis command. */
export interface ScriptDefinition {
  /** Keys the script takes; undefined when each call passes the count first. */
  readonly numberOfKeys: number | undefined;
  readonly lua: string;
}

/** Where the connection goes; the fields of `RedisStoreOptions` it uses. */
export interface StoreConnectionOptions<TName extends string> {
  url: string;
  redis: RedisOptions | undefined;
  /** Redis Cluster nodes to connect to (`host:port`) instead of `url`. */
  clusterNodes?: readonly string[] | undefined;
  /** ioredis Cluster options, merged over the fail-fast defaults. */
  cluster?: ClusterOptions | undefined;
  /** Redis Sentinel processes (`host:port`) that name the master, instead of `url`'s host and port. */
  sentinels?: readonly string[] | undefined;
  /** The master's name at the sentinels. */
  sentinelName?: string | undefined;
  client: RedisClient | undefined;
  commandTimeoutMs: number;
  /** Scripts to define, by command name (unique across the scripts sharing a client). */
  scripts: Readonly<Record<TName, ScriptDefinition>>;
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** What the stores talk to: one Redis, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** True when `client` is an ioredis `Cluster`. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * The command connection of a `RedisStore` (or `RedisEventLog`): an ioredis
 * client set up to fail fast (no offline queue, no resend after a reconnect,
 * a reply timeout) and to reconnect by itself, with the owner's Lua scripts
 * defined on it. Every failure comes out as `StoreUnavailableError` unless it
 * is a script bug.
 */
export class StoreConnection<TName extends string> {
  readonly client: RedisClient;
  readonly #owned: boolean;
  readonly #timeoutMs: number;
  readonly #scripts: Record<TName, ScriptCall>;
  /** The wait for the first connection, shared by the calls made meanwhile. */
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(options: StoreConnectionOptions<TName>) {
    this.#timeoutMs = options.commandTimeoutMs;
    this.#owned = options.client === undefined;
    const failFast: RedisOptions = {
      // A queued write could run long after its caller gave up: refuse instead.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#timeoutMs,
      connectTimeout: Math.max(this.#timeoutMs, 1_000),
      retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    };
    if (options.client !== undefined) this.client = options.client;
    else if (options.clusterNodes !== undefined && options.clusterNodes.length > 0) {
      if (options.sentinels !== undefined && options.sentinels.length > 0) {
        throw new MorganError(
          ErrorCode.INVALID_CONFIG,
          'Pass clusterNodes or sentinels, not both: a Cluster has no sentinels',
        );
      }
      const { retryStrategy: _retry, enableOfflineQueue: _queue, ...perNode } = failFast;
      this.client = new Cluster(options.clusterNodes.map(toAddress), {
        enableOfflineQueue: false,
        clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
        // A command that meets a failover retries for a short while, within its timeout.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        ...options.cluster,
        redisOptions: { ...perNode, ...options.redis, ...options.cluster?.redisOptions },
      });
    } else if (options.sentinels !== undefined && options.sentinels.length > 0) {
      this.client = new Redis(options.url, {
        ...failFast,
        ...sentinelDefaults(this.#timeoutMs),
        sentinels: options.sentinels.map(toAddress),
        name: options.sentinelName ?? 'mymaster',
        ...options.redis,
      });
    } else this.client = new Redis(options.url, { ...failFast, ...options.redis });
    // Errors reach callers through rejected operations; keep ioredis from logging them.
    this.client.on('error', () => {});
    const commands = this.client as unknown as Record<string, ScriptCall | undefined>;
    const definitions: [string, ScriptDefinition][] = Object.entries(options.scripts);
    for (const [name, { lua, numberOfKeys }] of definitions) {
      if (commands[name] !== undefined) continue;
      this.client.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
    }
    this.#scripts = Object.fromEntries(
      definitions.map(([name]) => [name, (commands[name] as ScriptCall).bind(this.client)]),
    ) as Record<TName, ScriptCall>;
  }

  /** Runs one of the store's scripts (EVALSHA; EVAL the first time on a socket). */
  run(name: TName, ...args: (string | number)[]): Promise<unknown> {
    return this.call(() => this.#scripts[name](...args));
  }

  /** Runs a command once the client is ready; maps failures to `StoreUnavailableError`. */
  call<T>(command: () => Promise<T>): Promise<T> {
    const ready = this.client.status === 'ready' ? command() : this.#whenReady().then(command);
    return ready.catch((error: unknown) => {
      throw toStoreError(error);
    });
  }

  /** QUITs the client unless it was passed in by the caller. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#owned) await quit(this.client, this.#timeoutMs);
  }

  /**
   * Waits for the first connection up to the command timeout. After a lost
   * connection the client reconnects in the background and calls fail at once.
   */
  #whenReady(): Promise<void> {
    const client = this.client;
    if (this.#closed || client.status === 'end') {
      return Promise.reject(new StoreUnavailableError('RedisStore is closed'));
    }
    if (client.status === 'wait') client.connect().catch(() => {});
    else if (client.status !== 'connecting' && client.status !== 'connect') {
      return Promise.reject(
        new StoreUnavailableError(`Redis is unavailable (connection ${client.status})`),
      );
    }
    this.#connecting ??= new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('end', onEnd);
        this.#connecting = undefined;
        if (error === undefined) resolve();
        else reject(error);
      };
      const onReady = () => done();
      const onEnd = () => done(new StoreUnavailableError('Redis connection ended'));
      const timer = setTimeout(
        () => done(new StoreUnavailableError(`Redis did not answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      timer.unref();
      client.once('ready', onReady);
      client.once('end', onEnd);
    });
    return this.#connecting;
  }
}

/** `host:port` (`[v6]:port` too) as ioredis takes a Cluster node or a sentinel. */
function toAddress(node: string): { host: string; port: number } {
  const colon = node.lastIndexOf(':');
  return {
    host: node.slice(0, colon).replace(/^\[|\]$/g, ''),
    port: Number(node.slice(colon + 1)),
  };
}

/**
 * How a client through Redis Sentinel follows the master. Each (re)connection
 * asks the sentinels for the master's address, and ioredis checks the role
 * of the node it reached, so after the master died the client's own
 * reconnects find the promoted replica; when the sentinels demote a live
 * master (`SENTINEL FAILOVER`) they close its clients, which reconnect the
 * same way. Two cases could leave a socket open to a master that no longer
 * is one: a master cut off from the sentinels but not from this node (it
 * never hears that it was demoted), which `failoverDetector` catches by
 * listening to `+switch-master` on the sentinels, and any write refused with
 * `READONLY`, which drops the socket so the next one asks again (the refused
 * call fails with `STORE_UNAVAILABLE`).
 */
function sentinelDefaults(timeoutMs: number): RedisOptions {
  return {
    failoverDetector: true,
    sentinelCommandTimeout: timeoutMs,
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
}

/** QUITs politely when connected, then drops the socket and any reconnect timer. */
export async function quit(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') {
    await withTimeout(
      client.quit().then(() => undefined),
      timeoutMs,
      () => undefined,
    ).catch(() => {});
  }
  client.disconnect();
}

/** Settles like `promise`, or with `onTimeout()` after `timeoutMs`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  onTimeout: () => T,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * No reply timeout on a pub/sub connection: a SUBSCRIBE answered late (a
 * node busy with reconnecting sockets, just started) is still a
 * subscription, and timing it out would fail a stream that works; callers
 * bound their own wait for the acknowledgement.
 */
const NO_TIMEOUT = { commandTimeout: undefined } as unknown as RedisOptions;

/**
 * A pub/sub connection beside `client`. SUBSCRIBE must wait for the
 * connection, so this one keeps an offline queue; ioredis' own resubscribe is
 * off because a SUBSCRIBE queued or in flight when a connection failed may
 * never have been acknowledged: `onReady(afterLoss)` runs on every
 * (re)connection and the owner subscribes again. Beside a `Cluster` it is a
 * `Cluster` too, whose own subscriber follows failovers (a SUBSCRIBE again
 * on `onReady` is harmless).
 */
export function subscriberConnection<TClient extends RedisClient>(
  client: TClient,
  onReady: (afterLoss: boolean) => void,
): TClient {
  const connection = (
    isCluster(client)
      ? client.duplicate(undefined, {
          enableOfflineQueue: true,
          lazyConnect: false,
          redisOptions: {
            ...client.options.redisOptions,
            ...NO_TIMEOUT,
            maxRetriesPerRequest: null,
          },
        })
      : client.duplicate({
          ...NO_TIMEOUT,
          enableOfflineQueue: true,
          maxRetriesPerRequest: null,
          autoResubscribe: false,
          lazyConnect: false,
        })
  ) as TClient;
  let lost = false;
  connection.on('error', () => {});
  connection.on('close', () => {
    lost = true;
  });
  connection.on('ready', () => {
    const afterLoss = lost;
    lost = false;
    onReady(afterLoss);
  });
  return connection;
}
