import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import {
  CloseCode,
  ErrorCode,
  MUX_QUERY_PARAM,
  type MuxClientEnvelope,
  TOO_MANY_CHANNELS,
} from '../protocol.js';
import { Channel, type ChannelCarrier } from './channel.js';
import { Heartbeat, type HeartbeatPeer } from './heartbeat.js';
import { listen, type SocketListener } from './socket.js';

/** True when an upgrade asks for a shared socket (`?mux=1`). */
export function isMuxRequest(url: string | undefined): boolean {
  if (url === undefined || !url.includes(MUX_QUERY_PARAM)) return false;
  try {
    return new URL(url, 'http://localhost').searchParams.get(MUX_QUERY_PARAM) === '1';
  } catch {
    return false;
  }
}

/** The limits of one shared socket. */
export interface MuxLimits {
  maxChannelsPerSocket: number;
  /** A shared socket without an authenticated channel for this long is closed with 4400. */
  authTimeoutMs: number;
  maxBufferedBytes: number;
  closeTimeoutMs: number;
}

/** What a shared socket needs from the layer that owns it. */
export interface MuxHost {
  /** A channel opened: runs it through the lifecycle of a socket (`Connection`). */
  openChannel(mux: MuxSocket, channel: Channel): void;
  /** The shared socket closed (its channels have been told). */
  muxClosed(mux: MuxSocket): void;
}

/** Largest channel number: a positive 31-bit integer. */
const MAX_CHANNEL = 2 ** 31 - 1;

/**
 * One real WebSocket that carries the sockets of many tabs of a browser
 * (`connection: 'shared'` in the SDK), in JSON envelopes (see
 * docs/protocol.md): `{"c":1,"t":"o"}` opens channel 1, `{"c":1,"t":"m","d":"…"}`
 * carries one of its messages, `{"c":1,"t":"x"}` closes it (the server adds
 * `code` and `reason`). Every channel is a {@link Channel} with its own
 * session; heartbeats ping this socket once and its pong counts for every
 * channel. Garbage closes the whole socket with 1007; channels past the
 * limit are closed alone with 4429 `TOO_MANY_CHANNELS`.
 */
export class MuxSocket implements HeartbeatPeer, ChannelCarrier, SocketListener {
  readonly ws: WebSocket;
  readonly req: IncomingMessage;
  pingRound = 0;
  readonly #host: MuxHost;
  readonly #limits: MuxLimits;
  readonly #channels = new Map<number, Channel>();
  /** Channels that authenticated (each marked `Channel.authenticated`). */
  #authenticated = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #ending = false;
  /** Gives back the socket's place among its address's unauthenticated ones. */
  settle: () => void = () => {};

  constructor(ws: WebSocket, req: IncomingMessage, host: MuxHost, limits: MuxLimits) {
    this.ws = ws;
    this.req = req;
    this.#host = host;
    this.#limits = limits;
    listen(ws, this);
    this.#armIdle();
  }

  /** Channels open now (authenticated or not). */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** Channels that authenticated their session and are served. */
  get authenticatedCount(): number {
    return this.#authenticated;
  }

  /** Closes the real socket (and so every channel). */
  end(code: number, reason: string): void {
    if (this.#ending) return;
    this.#ending = true;
    this.ws.close(code, reason);
  }

  // ChannelCarrier

  authenticated(channel: Channel): void {
    if (this.#channels.get(channel.number) !== channel) return;
    if (channel.authenticated) return;
    channel.authenticated = true;
    this.#authenticated += 1;
    clearTimeout(this.#idleTimer);
    this.settle();
  }

  sendMessage(channel: number, data: string): void {
    this.#send(`{"c":${channel},"t":"m","d":${JSON.stringify(data)}}`);
  }

  sendClose(channel: number, code: number, reason: string): void {
    this.#forget(channel);
    this.#send(`{"c":${channel},"t":"x","code":${code},"reason":${JSON.stringify(reason)}}`);
  }

  // SocketListener: the real socket's events.

  received(text: string | null): void {
    Heartbeat.alive(this);
    const envelope = text === null ? undefined : parseEnvelope(text);
    if (envelope === undefined) {
      this.end(CloseCode.INVALID_PAYLOAD, ErrorCode.INVALID_REQUEST);
      return;
    }
    const channel = this.#channels.get(envelope.c);
    switch (envelope.t) {
      case 'o':
        if (channel !== undefined) {
          this.end(CloseCode.INVALID_PAYLOAD, ErrorCode.INVALID_REQUEST);
          return;
        }
        this.#open(envelope.c);
        return;
      case 'm':
        // A channel the server closed may still get a message already on its way.
        channel?.deliver(envelope.d);
        return;
      case 'x':
        if (channel === undefined) return;
        this.#forget(envelope.c);
        channel.lost();
        return;
    }
  }

  alive(): void {
    Heartbeat.alive(this);
    for (const channel of this.#channels.values()) channel.pong();
  }

  closed(): void {
    this.#ending = true;
    clearTimeout(this.#idleTimer);
    const channels = [...this.#channels.values()];
    this.#channels.clear();
    this.#authenticated = 0;
    for (const channel of channels) channel.lost();
    this.settle();
    this.#host.muxClosed(this);
  }

  // Internals

  #send(text: string): void {
    const { ws } = this;
    if (ws.readyState !== ws.OPEN) return;
    ws.send(text);
    if (ws.bufferedAmount <= this.#limits.maxBufferedBytes || this.#ending) return;
    this.end(CloseCode.TRY_AGAIN_LATER, 'SLOW_CONSUMER');
    setTimeout(() => ws.terminate(), this.#limits.closeTimeoutMs).unref();
  }

  #open(number: number): void {
    if (this.#ending) return;
    if (this.#channels.size >= this.#limits.maxChannelsPerSocket) {
      this.#send(
        `{"c":${number},"t":"x","code":${CloseCode.RATE_LIMITED},"reason":"${TOO_MANY_CHANNELS}"}`,
      );
      return;
    }
    const channel = new Channel(number, this);
    this.#channels.set(number, channel);
    this.#host.openChannel(this, channel);
  }

  #forget(number: number): void {
    const channel = this.#channels.get(number);
    if (channel === undefined) return;
    this.#channels.delete(number);
    if (!channel.authenticated) return;
    channel.authenticated = false;
    this.#authenticated -= 1;
    if (this.#authenticated === 0) this.#armIdle();
  }

  /** No authenticated channel for `authTimeoutMs`: the socket serves nobody, close it. */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    if (this.#ending) return;
    this.#idleTimer = setTimeout(
      () => this.end(CloseCode.BAD_SESSION, 'No channel authenticated'),
      this.#limits.authTimeoutMs,
    );
    this.#idleTimer.unref();
  }
}

/** An envelope, or undefined when the text is not one. */
function parseEnvelope(text: string): MuxClientEnvelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { c, t, d } = value as { c?: unknown; t?: unknown; d?: unknown };
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > MAX_CHANNEL) return undefined;
  if (t === 'o' || t === 'x') return { c, t };
  if (t === 'm' && typeof d === 'string') return { c, t, d };
  return undefined;
}
