import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Held answers at once, node-wide per middleware; past it early retries are answered at once. */
const MAX_HELD = 10_000;

/**
 * Slows the 503s of clients that ignore `Retry-After`: a request shed on a
 * connection whose previous request was shed less than `retryAfterMs` ago
 * gets its answer only when that much time has passed since the previous
 * one. A client that retries at once then costs the node one answer per
 * `Retry-After` instead of a storm of them, which would take the CPU that
 * admitted requests need; a client that honours `Retry-After` never waits.
 * Keyed by connection (a client that opens a new one per retry is not
 * slowed, but pays a handshake per retry); at most 10,000 answers wait at
 * once, later ones are sent at once.
 *
 * @example
 * const early = new EarlyRetries(1000);
 * const waitMs = early.shed(req.socket);
 * if (waitMs === 0 || !early.hold(res, waitMs, send)) send();
 */
export class EarlyRetries {
  readonly retryAfterMs: number;
  readonly #lastShedAt = new WeakMap<Socket, number>();
  #held = 0;

  constructor(retryAfterMs: number) {
    this.retryAfterMs = retryAfterMs;
  }

  /** Answers waiting now. */
  get held(): number {
    return this.#held;
  }

  /**
   * Notes a shed request on `socket`; returns how long its answer should
   * wait (0: at once, and the shed counts as the connection's latest).
   */
  shed(socket: Socket | null, now: number = performance.now()): number {
    if (socket === null) return 0;
    const last = this.#lastShedAt.get(socket);
    if (last !== undefined && now - last < this.retryAfterMs) {
      return this.retryAfterMs - (now - last);
    }
    this.#lastShedAt.set(socket, now);
    return 0;
  }

  /**
   * Sends the answer (`send`) after `waitMs`, unless the client goes away
   * first. False (nothing scheduled) when too many answers wait already.
   */
  hold(res: ServerResponse, waitMs: number, send: () => void): boolean {
    if (this.#held >= MAX_HELD) return false;
    this.#held += 1;
    const done = () => {
      this.#held -= 1;
      clearTimeout(timer);
      res.off('close', done);
    };
    const timer = setTimeout(() => {
      done();
      if (res.socket !== null) this.#lastShedAt.set(res.socket, performance.now());
      if (!res.destroyed && !res.writableEnded) send();
    }, waitMs);
    timer.unref();
    res.on('close', done);
    return true;
  }
}
