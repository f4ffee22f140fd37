import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';

/** What a virtual socket needs from the shared socket that carries it. */
export interface ChannelCarrier {
  /** Sends one message of `channel` to the client. */
  sendMessage(channel: number, data: string): void;
  /** Tells the client that `channel` closed, and forgets it. */
  sendClose(channel: number, code: number, reason: string): void;
}

/** Close code a channel reports when the shared socket under it is gone (as `ws` does). */
const ABNORMAL_CLOSURE = 1006;

/**
 * One channel of a shared (multiplexed) socket, shaped as the `ws` socket
 * that `Connection` and tRPC's WebSocket adapter use: `send`, `close`,
 * `terminate`, `ping`, `readyState`, `bufferedAmount`, and the `message`,
 * `close`, `pong` and `error` events. It goes through the same lifecycle
 * as a real socket (authentication, counting on its session, 4404 when the
 * session ends) and is handed to tRPC like one; only its frames travel in
 * the shared socket's envelopes.
 */
export class VirtualSocket extends EventEmitter {
  readonly channel: number;
  readonly #carrier: ChannelCarrier;
  #state: number = WebSocket.OPEN;

  constructor(channel: number, carrier: ChannelCarrier) {
    super();
    this.channel = channel;
    this.#carrier = carrier;
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
    const callback = rest.findLast((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (this.#state === WebSocket.OPEN) {
      this.#carrier.sendMessage(this.channel, typeof data === 'string' ? data : String(data));
    }
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
    if (this.#state === WebSocket.OPEN) this.emit('message', Buffer.from(data), false);
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

  /** `close` follows in a later task, as it does for a real socket. */
  #closed(code: number, reason: string): void {
    setImmediate(() => {
      this.#state = WebSocket.CLOSED;
      this.emit('close', code, Buffer.from(reason));
    });
  }
}
