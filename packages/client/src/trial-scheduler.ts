import { clientClosedError } from './errors.js';
import { ReconnectScheduler } from './reconnect.js';

/**
 * The scheduler of a socket opened to try the WebSocket again while on SSE:
 * while it is a trial, its reconnects wait until it ends (`end()`, which
 * rejects them: the trial failed and its socket is closed), so a failed
 * trial neither schedules a reconnect nor changes the client's state. Once
 * the server confirmed it (`promote()`), it waits the client's scheduler
 * like any socket.
 */
export class TrialScheduler extends ReconnectScheduler {
  readonly #main: ReconnectScheduler;
  readonly #held = new Set<(error: unknown) => void>();
  #trial = true;

  constructor(main: ReconnectScheduler) {
    super({ delayMs: () => 0, maxAttempts: Number.POSITIVE_INFINITY, onSchedule: () => {} });
    this.#main = main;
  }

  override wait(): Promise<void> {
    if (!this.#trial) return this.#main.wait();
    return new Promise<void>((_resolve, reject) => {
      this.#held.add(reject);
    });
  }

  override reset(): void {
    this.#main.reset();
  }

  /** The trial succeeded: the socket reconnects by the client's scheduler from now on. */
  promote(): void {
    this.#trial = false;
  }

  /** The trial failed: its pending reconnects end. */
  end(): void {
    const held = [...this.#held];
    this.#held.clear();
    for (const reject of held) reject(clientClosedError());
  }
}
