import { Redis, type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import { toStoreError } from './records.js';

/** A Lua script defined on the connection as an ioredis command. */
export interface ScriptDefinition {
  readonly numberOfKeys: number;
  readonly lua: string;
}

/** Where the connection goes; the fields of `RedisStoreOptions` it uses. */
export interface StoreConnectionOptions<TName extends string> {
  url: string;
  redis: RedisOptions | undefined;
  client: Redis | undefined;
  commandTimeoutMs: number;
  /** Scripts to define, by command name (unique across the scripts sharing a client). */
  scripts: Readonly<Record<TName, ScriptDefinition>>;
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/**
 * The command connection of a `RedisStore` (or `RedisEventLog`): an ioredis
 * client set up to fail fast (no offline queue, no resend after a reconnect,
 * a reply timeout) and to reconnect by itself, with the owner's Lua scripts
 * defined on it. Every failure comes out as `StoreUnavailableError` unless it
 * is a script bug.
 */
export class StoreConnection<TName extends string> {
  readonly client: Redis;
  readonly #owned: boolean;
  readonly #timeoutMs: number;
  readonly #scripts: Record<TName, ScriptCall>;
  /** The wait for the first connection, shared by the calls made meanwhile. */
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(options: StoreConnectionOptions<TName>) {
    this.#timeoutMs = options.commandTimeoutMs;
    this.#owned = options.client === undefined;
    this.client =
      options.client ??
      new Redis(options.url, {
        // A queued write could run long after its caller gave up: refuse instead.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: this.#timeoutMs,
        connectTimeout: Math.max(this.#timeoutMs, 1_000),
        retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
        ...options.redis,
      });
    // Errors reach callers through rejected operations; keep ioredis from logging them.
    this.client.on('error', () => {});
    const commands = this.client as unknown as Record<string, ScriptCall | undefined>;
    const definitions: [string, ScriptDefinition][] = Object.entries(options.scripts);
    for (const [name, script] of definitions) {
      if (commands[name] === undefined) this.client.defineCommand(name, script);
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

/** QUITs politely when connected, then drops the socket and any reconnect timer. */
export async function quit(client: Redis, timeoutMs: number): Promise<void> {
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
 * A pub/sub connection beside `client`. SUBSCRIBE must wait for the
 * connection, so this one keeps an offline queue; ioredis' own resubscribe is
 * off because a SUBSCRIBE queued or in flight when a connection failed may
 * never have been acknowledged: `onReady(afterLoss)` runs on every
 * (re)connection and the owner subscribes again.
 */
export function subscriberConnection(client: Redis, onReady: (afterLoss: boolean) => void): Redis {
  const connection = client.duplicate({
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    autoResubscribe: false,
    lazyConnect: false,
  });
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
