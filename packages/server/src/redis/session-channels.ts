import type { Redis } from 'ioredis';
import { quit, subscriberConnection } from './connection.js';

/** What a channel's subscriber gets: the raw message, parsed once per listener. */
export type ChannelListener = (message: string) => void;

interface Channel {
  readonly listeners: Set<ChannelListener>;
  /** Resolves once Redis acknowledged the current SUBSCRIBE of this channel. */
  acknowledged: Promise<void>;
}

/** What `LiveEvents` listens with: per-session channels, on one Redis or a cluster. */
export interface Channels {
  /** Listens to `channel`; returns the removal. */
  add(channel: string, listener: ChannelListener): () => void;
  /** Resolves once the channel's subscription is acknowledged (at once when not listened to). */
  acknowledged(channel: string): Promise<void>;
  /** Channels listened to now. */
  readonly size: number;
  close(): Promise<void>;
}

/** How a `SessionChannels` subscribes. */
export interface SessionChannelsOptions {
  /** Sharded pub/sub (`SSUBSCRIBE`, Redis 7), on a connection to the master of the channels' slots. @default false */
  sharded?: boolean;
  /** Called when the connection is lost (before it comes back). @default none */
  onLost?: () => void;
}

/**
 * One pub/sub connection shared by every per-session channel this node
 * listens to: a channel is subscribed while it has listeners and
 * unsubscribed with the last one. After a lost connection every channel is
 * subscribed again and `onResubscribed` names them, so the owner can fetch
 * what was published meanwhile (pub/sub itself does not replay).
 */
export class SessionChannels implements Channels {
  readonly #connection: Redis;
  readonly #channels = new Map<string, Channel>();
  readonly #onResubscribed: (channels: string[]) => void;
  readonly #sharded: boolean;

  constructor(
    client: Redis,
    onResubscribed: (channels: string[]) => void,
    options: SessionChannelsOptions = {},
  ) {
    this.#onResubscribed = onResubscribed;
    this.#sharded = options.sharded ?? false;
    this.#connection = subscriberConnection(client, (lost) => this.#resubscribe(lost));
    const onLost = options.onLost;
    if (onLost !== undefined) this.#connection.on('close', onLost);
    this.#connection.on(
      this.#sharded ? 'smessage' : 'message',
      (channel: string, message: string) => {
        for (const listener of [...(this.#channels.get(channel)?.listeners ?? [])]) {
          try {
            listener(message);
          } catch {
            // A failing listener must not stop delivery to the others.
          }
        }
      },
    );
  }

  /** Listens to `channel`; returns the removal. */
  add(channel: string, listener: ChannelListener): () => void {
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      entry = { listeners: new Set(), acknowledged: this.#subscribe([channel]) };
      this.#channels.set(channel, entry);
    }
    entry.listeners.add(listener);
    const listeners = entry.listeners;
    return () => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      if (this.#channels.get(channel)?.listeners !== listeners) return;
      this.#channels.delete(channel);
      const unsubscribed = this.#sharded
        ? this.#connection.sunsubscribe(channel)
        : this.#connection.unsubscribe(channel);
      unsubscribed.catch(() => {});
    };
  }

  /** Resolves once the channel's subscription is acknowledged (at once when not listened to). */
  acknowledged(channel: string): Promise<void> {
    return this.#channels.get(channel)?.acknowledged ?? Promise.resolve();
  }

  /** Channels listened to now. */
  get size(): number {
    return this.#channels.size;
  }

  close(): Promise<void> {
    this.#channels.clear();
    return quit(this.#connection, 1_000);
  }

  #subscribe(channels: string[]): Promise<void> {
    const subscribed = (
      this.#sharded
        ? // One SSUBSCRIBE per channel: a command's channels must share a slot.
          Promise.all(channels.map((channel) => this.#connection.ssubscribe(channel)))
        : this.#connection.subscribe(...channels)
    ).then(() => undefined);
    subscribed.catch(() => {});
    return subscribed;
  }

  #resubscribe(lost: boolean): void {
    const channels = [...this.#channels.keys()];
    if (channels.length === 0) return;
    const acknowledged = this.#subscribe(channels);
    for (const entry of this.#channels.values()) entry.acknowledged = acknowledged;
    if (!lost) return;
    acknowledged.then(
      () => this.#onResubscribed(channels),
      () => {},
    );
  }
}
