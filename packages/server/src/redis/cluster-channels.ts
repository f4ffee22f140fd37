import calculateSlot from 'cluster-key-slot';
import { type Cluster, Redis } from 'ioredis';
import { type ChannelListener, type Channels, SessionChannels } from './session-channels.js';

interface Entry {
  readonly listeners: Set<ChannelListener>;
  /** The master (`host:port`) whose connection carries the channel now. */
  node: string | undefined;
  remove: (() => void) | undefined;
  acknowledged: Promise<void>;
}

/** Wait after a lost connection before the channels' masters are looked up again. */
const REHOME_DELAY_MS = 500;

/**
 * Per-session channels on Redis Cluster, with sharded pub/sub (`SSUBSCRIBE`,
 * Redis 7): a channel's messages stay on the shard that owns its slot, and
 * this node keeps one subscriber connection per master it listens on (a
 * `SessionChannels` each). After a lost connection or a refused
 * subscription (the slot moved: a failover, a resharding) it refreshes the
 * cluster's slot map and moves every channel whose master changed;
 * `onResubscribed` then names them, and names every channel of a connection
 * that came back, so the owner fetches what was published meanwhile.
 */
export class ClusterChannels implements Channels {
  readonly #cluster: Cluster;
  readonly #onResubscribed: (channels: string[]) => void;
  readonly #groups = new Map<string, SessionChannels>();
  readonly #channels = new Map<string, Entry>();
  #rehoming: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(cluster: Cluster, onResubscribed: (channels: string[]) => void) {
    this.#cluster = cluster;
    this.#onResubscribed = onResubscribed;
  }

  add(channel: string, listener: ChannelListener): () => void {
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      entry = {
        listeners: new Set(),
        node: undefined,
        remove: undefined,
        acknowledged: Promise.resolve(),
      };
      this.#channels.set(channel, entry);
      this.#home(channel, entry);
    }
    entry.listeners.add(listener);
    const current = entry;
    return () => {
      if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
      if (this.#channels.get(channel) !== current) return;
      this.#channels.delete(channel);
      current.remove?.();
    };
  }

  acknowledged(channel: string): Promise<void> {
    return this.#channels.get(channel)?.acknowledged ?? Promise.resolve();
  }

  get size(): number {
    return this.#channels.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#rehoming);
    this.#channels.clear();
    await Promise.all([...this.#groups.values()].map((group) => group.close()));
    this.#groups.clear();
  }

  /** Subscribes `channel` on the connection to its slot's master (once the slot map is known). */
  #home(channel: string, entry: Entry): void {
    const node = this.#masterOf(channel);
    if (node === undefined) {
      entry.acknowledged = this.#slotsKnown().then(() => {
        if (this.#channels.get(channel) === entry && entry.node === undefined) {
          this.#home(channel, entry);
        }
        return entry.acknowledged;
      });
      entry.acknowledged.catch(() => {});
      return;
    }
    const group = this.#group(node);
    entry.node = node;
    entry.remove = group.add(channel, (message) => {
      for (const listener of [...entry.listeners]) listener(message);
    });
    entry.acknowledged = group.acknowledged(channel);
    // A refused SSUBSCRIBE (MOVED: the slot has another master now).
    entry.acknowledged.catch(() => this.#rehomeSoon());
  }

  #group(node: string): SessionChannels {
    let group = this.#groups.get(node);
    if (group === undefined) {
      const colon = node.lastIndexOf(':');
      const base = new Redis({
        ...this.#cluster.options.redisOptions,
        host: node.slice(0, colon),
        port: Number(node.slice(colon + 1)),
        lazyConnect: true,
      });
      group = new SessionChannels(base, (channels) => this.#onResubscribed(channels), {
        sharded: true,
        onLost: () => this.#rehomeSoon(),
      });
      this.#groups.set(node, group);
    }
    return group;
  }

  #masterOf(channel: string): string | undefined {
    return this.#cluster.slots[calculateSlot(channel)]?.[0];
  }

  #slotsKnown(): Promise<void> {
    if (this.#cluster.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => this.#cluster.once('ready', () => resolve()));
  }

  #rehomeSoon(): void {
    if (this.#closed || this.#rehoming !== undefined) return;
    this.#rehoming = setTimeout(() => {
      this.#rehoming = undefined;
      this.#cluster.refreshSlotsCache(() => this.#rehome());
    }, REHOME_DELAY_MS);
    this.#rehoming.unref();
  }

  /** Moves every channel whose slot has another master now; they catch up once subscribed there. */
  #rehome(): void {
    if (this.#closed) return;
    const moved: string[] = [];
    for (const [channel, entry] of this.#channels) {
      const node = this.#masterOf(channel);
      if (node === undefined || node === entry.node) continue;
      entry.remove?.();
      entry.remove = undefined;
      entry.node = undefined;
      this.#home(channel, entry);
      moved.push(channel);
    }
    for (const channel of moved) {
      this.#channels.get(channel)?.acknowledged.then(
        () => this.#onResubscribed([channel]),
        () => {},
      );
    }
  }
}
