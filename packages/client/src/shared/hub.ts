import { Leader } from './leader.js';
import type { LockManagerLike } from './locks.js';
import {
  type BroadcastChannelConstructor,
  type BroadcastChannelLike,
  type DownstreamMessage,
  leaderLockName,
  randomId,
  sharedChannelName,
  tabChannelName,
  tabLockName,
  type UpstreamMessage,
} from './messages.js';
import { type VirtualSocketHost, VirtualWebSocket } from './virtual-websocket.js';

/** What a {@link SharedConnection} works with. */
export interface SharedConnectionDeps {
  /** WebSocket URL of the tRPC endpoint (`ws://host/trpc`). */
  url: string;
  /** The real WebSocket constructor, used by this tab while it leads. */
  WebSocket: unknown;
  locks: LockManagerLike;
  BroadcastChannel: BroadcastChannelConstructor;
  /** Source of `pagehide`/`pageshow` (the window), if any. */
  page?: PageEvents | undefined;
}

/** Something that fires `pagehide` and `pageshow`, like `window`. */
export interface PageEvents {
  addEventListener(type: 'pagehide' | 'pageshow', listener: (event: unknown) => void): void;
  removeEventListener(type: 'pagehide' | 'pageshow', listener: (event: unknown) => void): void;
}

/**
 * One tab's part in sharing one WebSocket among the tabs of a browser
 * (`connection: 'shared'`): it holds a lock of its own while it lives (so
 * that the leader learns when it goes, crash included), stands in the
 * election for the leader lock (`navigator.locks`, granted in turn), relays
 * for every tab while it leads ({@link Leader}), and gives tRPC's WebSocket
 * client a constructor of virtual sockets that talk to the leader over
 * BroadcastChannel. When the leader goes, the next tab in line is granted
 * the lock and announces itself; every tab's socket closes with 4001 and
 * the SDK reconnects at once through the new leader.
 */
export class SharedConnection implements VirtualSocketHost {
  /** The constructor to hand to tRPC's `createWSClient`. */
  readonly WebSocket: new (
    url: string,
  ) => VirtualWebSocket;
  readonly ready: Promise<void>;
  readonly tab = randomId();
  readonly #deps: SharedConnectionDeps;
  readonly #name: string;
  readonly #shared: BroadcastChannelLike;
  readonly #own: BroadcastChannelLike;
  readonly #sockets = new Map<string, VirtualWebSocket>();
  readonly #closed = new AbortController();
  #releaseTab: (() => void) | undefined;
  #election: AbortController | undefined;
  #resign: (() => void) | undefined;
  #leader: Leader | undefined;

  constructor(deps: SharedConnectionDeps) {
    this.#deps = deps;
    this.#name = sharedChannelName(deps.url);
    const host = this;
    this.WebSocket = class extends VirtualWebSocket {
      constructor(url: string) {
        super(host, url);
      }
    };
    this.#shared = new deps.BroadcastChannel(this.#name);
    this.#shared.onmessage = ({ data }) => this.#onShared(data as UpstreamMessage);
    this.#own = new deps.BroadcastChannel(tabChannelName(this.#name, this.tab));
    this.#own.onmessage = ({ data }) => this.#onOwn(data as DownstreamMessage);
    this.ready = new Promise<void>((resolve) => {
      deps.locks
        .request(tabLockName(this.#name, this.tab), { signal: this.#closed.signal }, () => {
          resolve();
          return new Promise<void>((release) => {
            this.#releaseTab = release;
            if (this.#closed.signal.aborted) release();
          });
        })
        .catch(() => resolve());
    });
    void this.ready.then(() => this.#stand());
    deps.page?.addEventListener('pagehide', this.#onPageHide);
    deps.page?.addEventListener('pageshow', this.#onPageShow);
  }

  /** True while this tab holds the browser's socket. */
  get leading(): boolean {
    return this.#leader !== undefined;
  }

  /** Channels this tab relays while it leads (0 otherwise). */
  get relayedChannels(): number {
    return this.#leader?.channelCount ?? 0;
  }

  /** Leaves the election (handing over if leading) and releases the tab's lock. */
  close(): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    this.#deps.page?.removeEventListener('pagehide', this.#onPageHide);
    this.#deps.page?.removeEventListener('pageshow', this.#onPageShow);
    this.#leave();
    for (const socket of [...this.#sockets.values()]) socket.closed(1000, 'client closed');
    this.#shared.close();
    this.#own.close();
    this.#releaseTab?.();
  }

  // VirtualSocketHost

  register(socket: VirtualWebSocket): void {
    this.#sockets.set(socket.id, socket);
  }

  unregister(socket: VirtualWebSocket): void {
    this.#sockets.delete(socket.id);
  }

  requestOpen(socket: VirtualWebSocket): void {
    if (this.#closed.signal.aborted) return;
    this.#shared.postMessage({ k: 'open', v: socket.id, tab: this.tab } satisfies UpstreamMessage);
  }

  post(message: { k: 'send'; v: string; d: string } | { k: 'close'; v: string }): void {
    if (!this.#closed.signal.aborted) this.#shared.postMessage(message);
  }

  // Internals

  /** Queues for the leader lock; leads from the moment it is granted until resigning. */
  #stand(): void {
    if (this.#closed.signal.aborted || this.#election !== undefined) return;
    const election = new AbortController();
    this.#election = election;
    this.#deps.locks
      .request(leaderLockName(this.#name), { signal: election.signal }, async () => {
        if (election.signal.aborted || this.#closed.signal.aborted) return;
        const leader = new Leader({
          name: this.#name,
          url: this.#deps.url,
          WebSocket: this.#deps.WebSocket,
          BroadcastChannel: this.#deps.BroadcastChannel,
          locks: this.#deps.locks,
        });
        this.#leader = leader;
        await new Promise<void>((resolve) => {
          this.#resign = resolve;
        });
        leader.stop();
        if (this.#leader === leader) this.#leader = undefined;
      })
      .catch(() => {
        // Aborted: the tab left the election before its turn.
      });
  }

  /** Stops leading (the lock goes to the next tab) or leaves the queue. */
  #leave(): void {
    this.#election?.abort();
    this.#election = undefined;
    const resign = this.#resign;
    this.#resign = undefined;
    resign?.();
  }

  #onShared(message: UpstreamMessage): void {
    if (typeof message !== 'object' || message === null) return;
    if (message.k === 'leader') {
      for (const socket of [...this.#sockets.values()]) socket.leaderChanged(message.l);
    } else if (message.k === 'resign') {
      for (const socket of [...this.#sockets.values()]) socket.leaderResigned(message.l);
    }
  }

  #onOwn(message: DownstreamMessage): void {
    if (typeof message !== 'object' || message === null) return;
    const socket = this.#sockets.get(message.v);
    if (socket === undefined) return;
    switch (message.k) {
      case 'opened':
        socket.opened(message.l);
        return;
      case 'msg':
        socket.message(message.d);
        return;
      case 'closed':
        socket.closed(message.code, message.reason);
        return;
    }
  }

  /** A page going away (or into the back-forward cache) hands over at once. */
  readonly #onPageHide = (): void => {
    this.#leave();
  };

  /** Back from the back-forward cache: stand again. */
  readonly #onPageShow = (event: unknown): void => {
    if ((event as { persisted?: boolean }).persisted === true) this.#stand();
  };
}
