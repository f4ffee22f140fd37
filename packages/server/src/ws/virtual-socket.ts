import { EventEmitter } from 'node:events';
import { type RawData, WebSocket } from 'ws';

/** What a virtual socket needs from the shared socket that carries it. */
export interface ChannelCarrier {
  /** Sends one message of `channel` to the client. */
  sendMessage(channel: number, data: string): void;
  /** Tells the client that `channel` closed, and forgets it. */
  sendClose(channel: number, code: number, reason: string): void;
}

/**
 * One that a channel calls directly, before its `EventEmitter` listeners,
 * in the order they were added: the channel's own lifecycle (`Connection`)
 * and the shared socket's tRPC side, with no closure per event or channel.
 */
export interface ChannelListener {
  received(data: RawData, isBinary: boolean): void;
  alive?(): void;
  closed(code: number, reason: Buffer): void;
}

// biome-ignore lint/suspicious/noExplicitAny: listeners of any event, as EventEmitter types them
type Listener = (...args: any[]) => void;

/** Close code a channel reports when the shared socket under it is gone (as `ws` does). */
const ABNORMAL_CLOSURE = 1006;

/**
 * One channel of a shared (multiplexed) socket, shaped as the `ws` socket
 * that `Connection` and tRPC's WebSocket adapter use: `send`, `close`,
 * `terminate`, `ping`, `readyState`, `bufferedAmount`, and the `message`,
 * `close`, `pong` and `error` events. It goes through the same lifecycle
 * as a real socket (authentication, counting on its session, 4404 when the
 * session ends); only its frames travel in the shared socket's envelopes.
 * Its lifecycle and, once authenticated, its shared socket's tRPC side
 * ({@link ChannelListener}) are called directly; the `EventEmitter` methods
 * are there for a channel handed to tRPC on its own (an app with its own
 * `createContext`), made on first use.
 */
export class VirtualSocket {
  readonly channel: number;
  readonly #carrier: ChannelCarrier;
  #state: number = WebSocket.OPEN;
  /** Set once the channel authenticated its session and is served (see `MuxSocket`). */
  authenticated = false;
  /** Called directly, in order (at most two: the lifecycle and the server side). */
  #first: ChannelListener | undefined;
  #second: ChannelListener | undefined;
  /** `EventEmitter` listeners, made on first use (a channel served by the shared tRPC has none). */
  #emitter: EventEmitter | undefined;

  constructor(channel: number, carrier: ChannelCarrier) {
    this.channel = channel;
    this.#carrier = carrier;
  }

  /** The shared socket that carries the channel. */
  get carrier(): ChannelCarrier {
    return this.#carrier;
  }

  /** Adds a listener called directly on each message, pong and the close. */
  listen(listener: ChannelListener): void {
    if (this.#first === undefined) this.#first = listener;
    else if (this.#second === undefined) this.#second = listener;
    else throw new Error('A channel takes two direct listeners');
  }

  // The `EventEmitter` methods that `ws` users call (tRPC, the events layer, tests).

  on(event: string, listener: Listener): this {
    this.#events().on(event, listener);
    return this;
  }

  addListener(event: string, listener: Listener): this {
    return this.on(event, listener);
  }

  once(event: string, listener: Listener): this {
    this.#events().once(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.#emitter?.off(event, listener);
    return this;
  }

  removeListener(event: string, listener: Listener): this {
    return this.off(event, listener);
  }

  listeners(event: string): Listener[] {
    return (this.#emitter?.listeners(event) ?? []) as Listener[];
  }

  listenerCount(event: string): number {
    return this.#emitter?.listenerCount(event) ?? 0;
  }

  emit(event: string, ...args: unknown[]): boolean {
    return this.#emitter?.emit(event, ...args) ?? false;
  }

  get readyState(): number {
    return this.#state;
  }

  /** The shared socket guards its own buffer (see `MuxSocket`); a channel queues nothing. */
  get bufferedAmount(): number {
    return 0;
  }

  /** Sends a text message (tRPC sends strings); the last function argument, if any, is called back. */
  send(data: unknown, ...rest: unknown[]): void {
    if (this.#state === WebSocket.OPEN) {
      this.#carrier.sendMessage(this.channel, typeof data === 'string' ? data : String(data));
    }
    if (rest.length === 0) return;
    const callback = rest.findLast((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
  }

  /** Heartbeats ping the shared socket once, not each channel. */
  ping(): void {}

  /** Closes the channel with a code the client sees as its socket's close code. */
  close(code = 1000, reason = ''): void {
    if (this.#state !== WebSocket.OPEN) return;
    this.#state = WebSocket.CLOSING;
    this.#carrier.sendClose(this.channel, code, reason);
    this.#closed(code, reason);
  }

  terminate(): void {
    this.close(ABNORMAL_CLOSURE, '');
  }

  /** A message of this channel arrived. */
  deliver(data: string): void {
    if (this.#state !== WebSocket.OPEN) return;
    const buffer = Buffer.from(data);
    this.#first?.received(buffer, false);
    this.#second?.received(buffer, false);
    this.#emitter?.emit('message', buffer, false);
  }

  /** The shared socket's pong, which counts for this channel. */
  pong(): void {
    this.#first?.alive?.();
    this.#second?.alive?.();
    this.#emitter?.emit('pong');
  }

  /** The client closed the channel. */
  remoteClose(): void {
    if (this.#state !== WebSocket.OPEN) return;
    this.#state = WebSocket.CLOSING;
    this.#closed(1005, '');
  }

  /** The shared socket closed under the channel. */
  lost(): void {
    if (this.#state !== WebSocket.OPEN) return;
    this.#state = WebSocket.CLOSING;
    this.#closed(ABNORMAL_CLOSURE, '');
  }

  #events(): EventEmitter {
    this.#emitter ??= new EventEmitter();
    return this.#emitter;
  }

  /** `close` follows in a later task, as it does for a real socket. */
  #closed(code: number, reason: string): void {
    setImmediate(() => {
      this.#state = WebSocket.CLOSED;
      const buffer = Buffer.from(reason);
      this.#first?.closed(code, buffer);
      this.#second?.closed(code, buffer);
      this.#emitter?.emit('close', code, buffer);
    });
  }
}
