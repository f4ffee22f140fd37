import type { Redis } from 'ioredis';
import { quit, subscriberConnection } from './connection.js';

/** What a channel's subscriber gets: the raw message, parsed once per listener. */
export type ChannelListener = (message: string) => void;

interface Channel {
  readonly listeners: Set<ChannelListener>;
  /** Resolves once Redis acknowledged the current SUBSCRIBE of this channel. */
  acknowledged: Promise<void>;
}

/**
 * One pub/sub connection shared by every per-session channel this node
 * listens to: a channel is subscribed while it has listeners and
 * unsubscribed with the last one. After a lost connection every channel is
 * subscribed again and `onResubscribed` names them, so the owner can fetch
 * what was published meanwhile (pub/sub itself does not replay).
 */
export class SessionChannels {
  readonly #connection: Redis;
  readonly #channels = new Map<string, Channel>();
  readonly #onResubscribed: (channels: string[]) => void;

  constructor(client: Redis, onResubscribed: (channels: string[]) => void) {
    this.#onResubscribed = onResubscribed;
    this.#connection = subscriberConnection(client, (lost) => this.#resubscribe(lost));
    this.#connection.on('message', (channel: string, message: string) => {
      for (const listener of [...(this.#channels.get(channel)?.listeners ?? [])]) {
        try {
          listener(message);
        } catch {
          // A failing listener must not stop delivery to the others.
        }
      }
    });
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
      this.#connection.unsubscribe(channel).catch(() => {});
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
    const subscribed = this.#connection.subscribe(...channels).then(() => undefined);
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
