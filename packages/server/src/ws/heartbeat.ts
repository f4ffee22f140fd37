import { SocketState, type WireSocket } from './socket.js';

/** What the heartbeat needs of a socket. */
export interface HeartbeatPeer {
  readonly ws: Pick<WireSocket, 'readyState' | 'ping' | 'terminate'>;
  /** Round of the ping still unanswered, 0 when none is. */
  pingRound: number;
}

/**
 * Server-driven liveness for every socket with one interval timer (not one
 * per socket): each round pings every peer that has no ping outstanding, and
 * one timer `timeoutMs` later terminates the peers still silent. An answer is
 * a pong or any message (`alive(peer)`). Terminating a half-open connection
 * (peer gone without a close frame) fires its `close` event, so the session's
 * connection count goes down.
 */
export class Heartbeat {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #peers: Iterable<HeartbeatPeer>;
  #round = 0;
  #interval: ReturnType<typeof setInterval> | undefined;
  readonly #checks = new Set<ReturnType<typeof setTimeout>>();

  constructor(peers: Iterable<HeartbeatPeer>, intervalMs: number, timeoutMs: number) {
    this.#peers = peers;
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
  }

  start(): void {
    if (this.#interval !== undefined) return;
    this.#interval = setInterval(() => this.#ping(), this.#intervalMs);
    this.#interval.unref();
  }

  stop(): void {
    clearInterval(this.#interval);
    this.#interval = undefined;
    for (const check of this.#checks) clearTimeout(check);
    this.#checks.clear();
  }

  /** Records an answer from the peer. */
  static alive(peer: HeartbeatPeer): void {
    peer.pingRound = 0;
  }

  #ping(): void {
    this.#round += 1;
    const round = this.#round;
    for (const peer of this.#peers) {
      if (peer.pingRound !== 0 || peer.ws.readyState !== SocketState.OPEN) continue;
      peer.pingRound = round;
      peer.ws.ping();
    }
    const check = setTimeout(() => {
      this.#checks.delete(check);
      for (const peer of this.#peers) {
        if (peer.pingRound === round) peer.ws.terminate();
      }
    }, this.#timeoutMs);
    check.unref();
    this.#checks.add(check);
  }
}
