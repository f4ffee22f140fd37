import { type SocketListener, SocketState, type WireSocket } from './socket.js';

/** What a channel needs from the shared socket that carries it. */
export interface ChannelCarrier {
  /** Sends one message of `channel` to the client. */
  sendMessage(channel: number, data: string): void;
  /** Tells the client that `channel` closed, and forgets it. */
  sendClose(channel: number, code: number, reason: string): void;
  /** The channel authenticated its session and is served. */
  authenticated(channel: Channel): void;
}

/** Close code a channel reports when the shared socket under it is gone (as `ws` does). */
const ABNORMAL_CLOSURE = 1006;

/**
 * One channel of a shared socket (`?mux=1`): a {@link WireSocket} whose
 * frames travel in the shared socket's envelopes. It goes through the same
 * lifecycle as a tab's own socket (authentication, counting on its session,
 * 4404 when the session ends) and is served by a tRPC handler of its own,
 * with its own request ids. Its one listener (its `Connection`) is called
 * directly: no emitter, no closure per channel.
 */
export class Channel implements WireSocket {
  readonly number: number;
  readonly #carrier: ChannelCarrier;
  #state: number = SocketState.OPEN;
  /** Set once the channel authenticated its session and is served (see `MuxSocket`). */
  authenticated = false;
  #listener: SocketListener | undefined;

  constructor(number: number, carrier: ChannelCarrier) {
    this.number = number;
    this.#carrier = carrier;
  }

  /** The channel authenticated its session: its shared socket counts it as served. */
  authenticate(): void {
    this.#carrier.authenticated(this);
  }

  /** Sets the one listener told of the channel's messages, pongs and close. */
  listen(listener: SocketListener): void {
    this.#listener = listener;
  }

  get readyState(): number {
    return this.#state;
  }

  /** The shared socket guards its own buffer (see `MuxSocket`); a channel queues nothing. */
  get bufferedAmount(): number {
    return 0;
  }

  send(text: string): void {
    if (this.#state === SocketState.OPEN) this.#carrier.sendMessage(this.number, text);
  }

  /** Heartbeats ping the shared socket once, not each channel. */
  ping(): void {}

  /** Closes the channel with a code the client sees as its socket's close code. */
  close(code = 1000, reason = ''): void {
    if (this.#state !== SocketState.OPEN) return;
    this.#state = SocketState.CLOSING;
    this.#carrier.sendClose(this.number, code, reason);
    this.#closed();
  }

  terminate(): void {
    this.close(ABNORMAL_CLOSURE, '');
  }

  /** A message of this channel arrived. */
  deliver(text: string): void {
    if (this.#state === SocketState.OPEN) this.#listener?.received(text);
  }

  /** The shared socket's pong, which counts for this channel. */
  pong(): void {
    this.#listener?.alive();
  }

  /** The client closed the channel, or the shared socket under it closed. */
  lost(): void {
    if (this.#state !== SocketState.OPEN) return;
    this.#state = SocketState.CLOSING;
    this.#closed();
  }

  /** `closed` follows in a later task, as it does for a real socket. */
  #closed(): void {
    setImmediate(() => {
      this.#state = SocketState.CLOSED;
      this.#listener?.closed();
    });
  }
}
