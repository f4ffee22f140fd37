import { MUX_QUERY_PARAM, type MuxClientEnvelope } from '../protocol.js';
import type { LockManagerLike } from './locks.js';
import {
  type BroadcastChannelConstructor,
  type BroadcastChannelLike,
  type DownstreamMessage,
  HANDOVER_CLOSE_CODE,
  HANDOVER_REASON,
  randomId,
  tabChannelName,
  tabLockName,
  type UpstreamMessage,
} from './messages.js';

/** The part of a real WebSocket the leader uses (the browser's, or `ws` in Node). */
interface RealSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: never) => void): void;
}

type RealSocketConstructor = new (url: string) => RealSocket;

/** What the leader works with. */
export interface LeaderDeps {
  /** The shared channel's name. */
  name: string;
  /** URL of the tRPC endpoint (`ws://host/trpc`); the real socket adds `?mux=1`. */
  url: string;
  WebSocket: unknown;
  BroadcastChannel: BroadcastChannelConstructor;
  locks: LockManagerLike;
}

interface Channel {
  /** Number on the wire. */
  c: number;
  tab: string;
  opened: boolean;
}

const OPEN = 1;

/**
 * The relay of the tab that won the election: one real WebSocket to the
 * server (`?mux=1`), opened when a tab asks for a channel, carrying every
 * tab's channel in envelopes (`{"c":1,"t":"o"|"m"|"x"}`), and the tabs'
 * frames over BroadcastChannel. A tab that goes (its lock is released, also
 * when it crashed) has its channels closed, so the server counts its
 * session's socket down.
 */
export class Leader {
  readonly id = randomId();
  readonly #deps: LeaderDeps;
  readonly #inbox: BroadcastChannelLike;
  readonly #tabs = new Map<string, BroadcastChannelLike>();
  /** Tabs whose lock this leader waits on. */
  readonly #watched = new Set<string>();
  readonly #channels = new Map<string, Channel>();
  readonly #byWire = new Map<number, string>();
  readonly #stopped = new AbortController();
  #socket: RealSocket | undefined;
  #next = 1;

  constructor(deps: LeaderDeps) {
    this.#deps = deps;
    this.#inbox = new deps.BroadcastChannel(deps.name);
    this.#inbox.onmessage = ({ data }) => this.#onUpstream(data as UpstreamMessage);
    this.#inbox.postMessage({ k: 'leader', l: this.id } satisfies UpstreamMessage);
  }

  /** Channels relayed now. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** Tells the tabs, closes the real socket (the server closes every channel) and the channels. */
  stop(): void {
    if (this.#stopped.signal.aborted) return;
    this.#stopped.abort();
    this.#inbox.postMessage({ k: 'resign', l: this.id } satisfies UpstreamMessage);
    for (const [v, channel] of this.#channels) {
      this.#reply(channel.tab, {
        k: 'closed',
        v,
        code: HANDOVER_CLOSE_CODE,
        reason: HANDOVER_REASON,
      });
    }
    this.#channels.clear();
    this.#byWire.clear();
    this.#inbox.close();
    for (const tab of this.#tabs.values()) tab.close();
    this.#tabs.clear();
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close(1000, HANDOVER_REASON);
  }

  #onUpstream(message: UpstreamMessage): void {
    if (this.#stopped.signal.aborted || typeof message !== 'object' || message === null) return;
    switch (message.k) {
      case 'open':
        this.#open(message.v, message.tab);
        return;
      case 'send': {
        const channel = this.#channels.get(message.v);
        if (channel?.opened === true) this.#envelope({ c: channel.c, t: 'm', d: message.d });
        return;
      }
      case 'close': {
        const channel = this.#forget(message.v);
        if (channel?.opened === true) this.#envelope({ c: channel.c, t: 'x' });
        return;
      }
      case 'leader':
      case 'resign':
        return;
    }
  }

  #open(v: string, tab: string): void {
    if (this.#channels.has(v)) return;
    const channel: Channel = { c: this.#next++, tab, opened: false };
    this.#channels.set(v, channel);
    this.#byWire.set(channel.c, v);
    this.#watch(tab);
    const socket = this.#ensureSocket();
    if (socket.readyState === OPEN) this.#sendOpen(v, channel);
  }

  #sendOpen(v: string, channel: Channel): void {
    channel.opened = true;
    this.#envelope({ c: channel.c, t: 'o' });
    this.#reply(channel.tab, { k: 'opened', v, l: this.id });
  }

  /** Sends an envelope on the real socket, if it is open. */
  #envelope(envelope: MuxClientEnvelope): void {
    if (this.#socket?.readyState === OPEN) this.#socket.send(JSON.stringify(envelope));
  }

  #forget(v: string): Channel | undefined {
    const channel = this.#channels.get(v);
    if (channel === undefined) return undefined;
    this.#channels.delete(v);
    this.#byWire.delete(channel.c);
    return channel;
  }

  #ensureSocket(): RealSocket {
    if (this.#socket !== undefined) return this.#socket;
    const SocketImpl = this.#deps.WebSocket as RealSocketConstructor;
    const url = new URL(this.#deps.url);
    url.searchParams.set(MUX_QUERY_PARAM, '1');
    const socket = new SocketImpl(url.toString());
    this.#socket = socket;
    socket.addEventListener('open', () => {
      if (this.#socket !== socket) return;
      for (const [v, channel] of this.#channels) if (!channel.opened) this.#sendOpen(v, channel);
    });
    socket.addEventListener('message', (event: { data: unknown }) => {
      if (this.#socket === socket && typeof event.data === 'string') this.#onEnvelope(event.data);
    });
    socket.addEventListener('error', () => {
      // `close` follows and reports.
    });
    socket.addEventListener('close', (event: { code: number }) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      // A shutdown (1001) reads as such in every tab; anything else as a lost connection.
      const code = event.code === 1001 ? 1001 : 1006;
      for (const [v, channel] of this.#channels) {
        this.#reply(channel.tab, { k: 'closed', v, code, reason: '' });
      }
      this.#channels.clear();
      this.#byWire.clear();
    });
    return socket;
  }

  #onEnvelope(text: string): void {
    // Read defensively: a `MuxServerEnvelope` from a server that keeps to the protocol.
    let envelope: { [K in 'c' | 't' | 'd' | 'code' | 'reason']?: unknown };
    try {
      envelope = JSON.parse(text) as typeof envelope;
    } catch {
      return;
    }
    const v = typeof envelope.c === 'number' ? this.#byWire.get(envelope.c) : undefined;
    const channel = v === undefined ? undefined : this.#channels.get(v);
    if (v === undefined || channel === undefined) return;
    if (envelope.t === 'm' && typeof envelope.d === 'string') {
      this.#reply(channel.tab, { k: 'msg', v, d: envelope.d });
    } else if (envelope.t === 'x') {
      this.#forget(v);
      this.#reply(channel.tab, {
        k: 'closed',
        v,
        code: typeof envelope.code === 'number' ? envelope.code : 1006,
        reason: typeof envelope.reason === 'string' ? envelope.reason : '',
      });
    }
  }

  #reply(tab: string, message: DownstreamMessage): void {
    let channel = this.#tabs.get(tab);
    if (channel === undefined) {
      channel = new this.#deps.BroadcastChannel(tabChannelName(this.#deps.name, tab));
      this.#tabs.set(tab, channel);
    }
    channel.postMessage(message);
  }

  /** Waits on the tab's lock: granted once the tab is gone, closed or crashed. */
  #watch(tab: string): void {
    if (this.#watched.has(tab)) return;
    this.#watched.add(tab);
    this.#deps.locks
      .request(tabLockName(this.#deps.name, tab), { signal: this.#stopped.signal }, () => {
        this.#tabGone(tab);
      })
      .catch(() => {
        // Aborted when this leader stops.
      });
  }

  #tabGone(tab: string): void {
    if (this.#stopped.signal.aborted) return;
    for (const [v, channel] of [...this.#channels]) {
      if (channel.tab !== tab) continue;
      this.#forget(v);
      if (channel.opened) this.#envelope({ c: channel.c, t: 'x' });
    }
    this.#tabs.get(tab)?.close();
    this.#tabs.delete(tab);
    this.#watched.delete(tab);
  }
}
