import type { StoreEvent } from '../store/store.js';
import { quit, type RedisClient, subscriberConnection } from './connection.js';

interface WireEvent {
  /** Publishing node. */
  n: string;
  t: StoreEvent['type'];
  /** Session id. */
  s: string;
  /** The new session id of a `rotated` event. */
  to?: string;
}

/**
 * The pub/sub side of a `RedisStore`: one extra connection subscribed to the
 * events channel, fanning out the events of *other* nodes to listeners.
 * It subscribes again after every reconnect; events published while this
 * node was disconnected are not replayed.
 */
export class EventSubscriber {
  readonly #connection: RedisClient;
  readonly #channel: string;
  readonly #nodeId: string;
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  #subscribed: Promise<void>;

  constructor(client: RedisClient, channel: string, nodeId: string) {
    this.#channel = channel;
    this.#nodeId = nodeId;
    this.#connection = subscriberConnection(client, (afterLoss) => {
      if (afterLoss) this.#subscribed = this.#subscribe();
    });
    this.#connection.on('message', (_channel: string, message: string) => this.#deliver(message));
    this.#subscribed = this.#subscribe();
  }

  /** Adds a listener; returns its removal. */
  add(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Resolves once the current connection's SUBSCRIBE is acknowledged. */
  subscribed(): Promise<void> {
    return this.#subscribed;
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return quit(this.#connection, 1_000);
  }

  #subscribe(): Promise<void> {
    const subscribed = this.#connection.subscribe(this.#channel).then(() => undefined);
    subscribed.catch(() => {});
    return subscribed;
  }

  #deliver(message: string): void {
    let wire: WireEvent;
    try {
      wire = JSON.parse(message) as WireEvent;
    } catch {
      return;
    }
    if (wire.n === this.#nodeId || typeof wire.s !== 'string') return;
    let event: StoreEvent;
    if (wire.t === 'deleted' || wire.t === 'expired') {
      event = { type: wire.t, sessionId: wire.s };
    } else if (wire.t === 'rotated' && typeof wire.to === 'string') {
      event = { type: 'rotated', sessionId: wire.s, newSessionId: wire.to };
    } else {
      return;
    }
    for (const listener of [...this.#listeners]) listener(event);
  }
}
