import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import type { RawData } from 'ws';
import type { Connection } from './connection.js';
import type { SocketEvents } from './event-subscriptions.js';
import type { ChannelListener } from './virtual-socket.js';

/**
 * The channel whose message tRPC is handling now (and every promise that
 * message starts): what the shared context reads its `session`, `runCall`
 * and `openSubscription` from, and where tRPC's answers go.
 */
export const currentChannel = new AsyncLocalStorage<Connection>();

/** `WebSocket.OPEN` and `WebSocket.CLOSED`. */
const OPEN = 1;
const CLOSED = 3;

/**
 * Marks a subscription id rewritten for the shared tRPC connection:
 * `"\u0001<channel>:<the client's id as JSON>"`. tRPC keys its subscriptions
 * by id per connection, and every tab numbers its ids from 1.
 */
const MARK = '\u0001';
/** The mark as JSON writes it, to find rewritten ids in tRPC's answers without parsing. */
const MARK_JSON = '\\u0001';

/**
 * The one tRPC connection of a shared socket (`?mux=1`), shaped as the `ws`
 * socket tRPC's adapter takes: every authenticated channel's messages (but
 * `session.events`, served per channel) are emitted here inside
 * {@link currentChannel}, so one tRPC handler state and one context serve
 * all the tabs of a browser, each call as its own tab's session. tRPC's
 * answers go to the channel of the message that caused them; subscription
 * ids are rewritten on the way in (`subscription`, `subscription.stop`) and
 * restored on the way out, so the ids of two tabs never collide, and a
 * channel that closes stops its subscriptions.
 */
export class SharedTrpc extends EventEmitter {
  #state = OPEN;
  /** tRPC subscriptions open per channel (their rewritten ids), for channels that hold any. */
  readonly #subscriptions = new Map<Connection, Set<string>>();

  get readyState(): number {
    return this.#state;
  }

  /** Each channel guards its backpressure on the real socket. */
  get bufferedAmount(): number {
    return 0;
  }

  /** A message of `channel` for tRPC; call inside `currentChannel.run(channel, …)`. */
  deliver(channel: Connection, data: RawData, isBinary: boolean): void {
    if (this.#state !== OPEN) return;
    if (!isBinary && Buffer.isBuffer(data) && data.includes('subscription')) {
      const rewritten = this.#rewrite(channel, data.toString('utf8'));
      if (rewritten !== undefined) data = Buffer.from(rewritten);
    }
    this.emit('message', data, isBinary);
  }

  /** tRPC's answer: sent on the channel of the message being handled, or dropped. */
  send(data: unknown, ...rest: unknown[]): void {
    const channel = currentChannel.getStore();
    const callback = rest.findLast((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (channel !== undefined && this.#state === OPEN) {
      let text = typeof data === 'string' ? data : String(data);
      if (text.includes(MARK_JSON)) text = this.#restore(channel, text);
      channel.ws.send(text);
    }
    callback?.();
  }

  ping(): void {}

  /** tRPC closes a connection whose context failed; the shared one has no failing context. */
  close(): void {}

  terminate(): void {}

  /** A channel closed: tRPC stops its subscriptions (their answers have nowhere to go). */
  channelClosed(channel: Connection): void {
    const ids = this.#subscriptions.get(channel);
    if (ids === undefined) return;
    this.#subscriptions.delete(channel);
    const stops = JSON.stringify([...ids].map((id) => ({ id, method: 'subscription.stop' })));
    currentChannel.run(channel, () => this.emit('message', Buffer.from(stops), false));
  }

  /** The shared socket closed: tRPC ends everything it holds. */
  closed(): void {
    if (this.#state !== OPEN) return;
    this.#state = CLOSED;
    this.#subscriptions.clear();
    this.emit('close', 1006, Buffer.alloc(0));
  }

  /** The message with its subscription ids rewritten, or undefined when none is (or not JSON). */
  #rewrite(channel: Connection, text: string): string | undefined {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return undefined; // tRPC answers the parse error
    }
    let changed = false;
    for (const item of Array.isArray(message) ? message : [message]) {
      if (typeof item !== 'object' || item === null) continue;
      const call = item as { id?: unknown; method?: unknown };
      if (call.method !== 'subscription' && call.method !== 'subscription.stop') continue;
      if (typeof call.id !== 'number' && typeof call.id !== 'string') continue;
      const id = `${MARK}${channelKey(channel)}:${JSON.stringify(call.id)}`;
      call.id = id;
      changed = true;
      if (call.method === 'subscription') {
        let ids = this.#subscriptions.get(channel);
        if (ids === undefined) {
          ids = new Set();
          this.#subscriptions.set(channel, ids);
        }
        ids.add(id);
      }
    }
    return changed ? JSON.stringify(message) : undefined;
  }

  /** The answer with the client's own id back (an ended subscription forgotten). */
  #restore(channel: Connection, text: string): string {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return text;
    }
    const answer = message as { id?: unknown; result?: { type?: unknown }; error?: unknown };
    const prefix = `${MARK}${channelKey(channel)}:`;
    if (typeof answer?.id !== 'string' || !answer.id.startsWith(prefix)) return text;
    const rewritten = answer.id;
    try {
      answer.id = JSON.parse(rewritten.slice(prefix.length));
    } catch {
      return text;
    }
    if (answer.error !== undefined || answer.result?.type === 'stopped') {
      const ids = this.#subscriptions.get(channel);
      ids?.delete(rewritten);
      if (ids?.size === 0) this.#subscriptions.delete(channel);
    }
    return JSON.stringify(answer);
  }
}

/** A channel's number on its shared socket. */
function channelKey(channel: Connection): number {
  return (channel.ws as unknown as { channel: number }).channel;
}

/**
 * The server side of one channel served by its shared socket's tRPC
 * connection: `session.events` on the channel itself (its own
 * {@link SocketEvents}), every other message to {@link SharedTrpc}, each
 * inside {@link currentChannel}.
 */
export class SharedChannel implements ChannelListener {
  readonly #connection: Connection;
  readonly #trpc: SharedTrpc;
  readonly #events: SocketEvents | undefined;

  constructor(connection: Connection, trpc: SharedTrpc, events: SocketEvents | undefined) {
    this.#connection = connection;
    this.#trpc = trpc;
    this.#events = events;
  }

  received(data: RawData, isBinary: boolean): void {
    currentChannel.run(this.#connection, () => {
      const events = this.#events;
      const forward = (data: RawData, isBinary: boolean) =>
        this.#trpc.deliver(this.#connection, data, isBinary);
      if (events === undefined) {
        forward(data, isBinary);
        return;
      }
      // A listener that throws would take the process down: nothing may.
      try {
        events.message(data, isBinary, forward);
      } catch (cause) {
        events.unexpected(cause);
      }
    });
  }

  closed(): void {
    try {
      this.#events?.closed();
    } catch (cause) {
      this.#events?.unexpected(cause);
    }
    this.#trpc.channelClosed(this.#connection);
  }
}
