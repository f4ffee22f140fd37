import { HANDOVER_CLOSE_CODE, HANDOVER_REASON, randomId } from './messages.js';

/** What a tab's virtual socket needs from its tab. */
export interface VirtualSocketHost {
  /** Resolves once the tab can ask the leader for channels. */
  readonly ready: Promise<void>;
  register(socket: VirtualWebSocket): void;
  unregister(socket: VirtualWebSocket): void;
  /** Asks the leader to open the socket's channel. */
  requestOpen(socket: VirtualWebSocket): void;
  post(message: { k: 'send'; v: string; d: string } | { k: 'close'; v: string }): void;
}

type Listener = (event: unknown) => void;
type EventName = 'open' | 'message' | 'close' | 'error';

/** How long a socket waits for a leader to open its channel before it fails (and tRPC retries), in ms. */
const OPEN_TIMEOUT_MS = 10_000;

/**
 * A WebSocket, as tRPC's WebSocket client uses one, whose frames travel
 * over BroadcastChannel to the tab that holds the browser's one real socket
 * (the leader), which carries them as one channel of that socket. Each tab's
 * virtual socket has its own session (`connectionParams`) like a real one.
 */
export class VirtualWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  /** The channel's id among the browser's tabs. */
  readonly id = randomId();
  readonly url: string;
  binaryType = 'arraybuffer';
  readyState: number = VirtualWebSocket.CONNECTING;
  onopen: Listener | null = null;
  onmessage: Listener | null = null;
  onclose: Listener | null = null;
  onerror: Listener | null = null;
  /** The leader that opened the channel. */
  leader: string | undefined;
  readonly #host: VirtualSocketHost;
  readonly #listeners = new Map<EventName, Set<Listener>>();
  #openTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(host: VirtualSocketHost, url: string) {
    this.#host = host;
    this.url = url;
    host.register(this);
    this.#openTimer = setTimeout(
      () => this.closed(1006, 'No leader opened the channel'),
      OPEN_TIMEOUT_MS,
    );
    void host.ready.then(() => {
      if (this.readyState === VirtualWebSocket.CONNECTING) host.requestOpen(this);
    });
  }

  get bufferedAmount(): number {
    return 0;
  }

  addEventListener(type: EventName, listener: Listener): void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener);
  }

  removeEventListener(type: EventName, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  send(data: string): void {
    if (this.readyState !== VirtualWebSocket.OPEN) return;
    this.#host.post({ k: 'send', v: this.id, d: String(data) });
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === VirtualWebSocket.CLOSED || this.readyState === VirtualWebSocket.CLOSING)
      return;
    this.#host.post({ k: 'close', v: this.id });
    this.readyState = VirtualWebSocket.CLOSING;
    // As a browser does, `close` follows in a later task.
    setTimeout(() => this.closed(code, reason), 0);
  }

  // From the tab

  /** The leader opened the channel. */
  opened(leader: string): void {
    if (this.readyState !== VirtualWebSocket.CONNECTING) return;
    clearTimeout(this.#openTimer);
    this.leader = leader;
    this.readyState = VirtualWebSocket.OPEN;
    this.#dispatch('open', { type: 'open' });
  }

  /** A message of the channel arrived. */
  message(data: string): void {
    if (this.readyState === VirtualWebSocket.OPEN)
      this.#dispatch('message', { type: 'message', data });
  }

  /** The channel closed (the server closed it, or the leader lost its socket or went). */
  closed(code: number, reason: string): void {
    if (this.readyState === VirtualWebSocket.CLOSED) return;
    clearTimeout(this.#openTimer);
    this.readyState = VirtualWebSocket.CLOSED;
    this.#host.unregister(this);
    this.#dispatch('close', { type: 'close', code, reason, wasClean: code !== 1006 });
  }

  /** Another tab leads now: a channel of the old leader is gone, a pending one asks the new leader. */
  leaderChanged(leader: string): void {
    if (this.readyState === VirtualWebSocket.OPEN && this.leader !== leader) {
      this.closed(HANDOVER_CLOSE_CODE, HANDOVER_REASON);
    } else if (this.readyState === VirtualWebSocket.CONNECTING) {
      this.#host.requestOpen(this);
    }
  }

  /** The leader `leader` is going: its channels are gone. */
  leaderResigned(leader: string): void {
    if (this.readyState === VirtualWebSocket.OPEN && this.leader === leader) {
      this.closed(HANDOVER_CLOSE_CODE, HANDOVER_REASON);
    }
  }

  #dispatch(type: EventName, event: unknown): void {
    const handler = this[`on${type}`];
    if (handler !== null) handler.call(this, event);
    for (const listener of [...(this.#listeners.get(type) ?? [])]) listener.call(this, event);
  }
}
