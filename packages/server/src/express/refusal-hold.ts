/** Options of a `RefusalHold`. */
export interface RefusalHoldOptions {
  /** How long an answer is held, in ms; 0 answers at once. */
  delayMs: number;
  /** Answers held at once for one client address; more are answered at once. */
  maxPerAddress: number;
  /** Answers held at once on the node; more are answered at once. */
  maxTotal: number;
}

/**
 * Holds refusals for a client that keeps asking while refused, ignoring
 * `Retry-After` (as express-slow-down does for rate limits): a closed-loop
 * flood then gets one answer per connection per `delayMs` instead of as many
 * as it can send, and costs the node next to nothing. Clients that honour
 * `Retry-After` never meet it: they come back once the window has reset.
 * Bounded: past `maxPerAddress` or `maxTotal` held answers it answers at
 * once, so holding can never pile up memory; a client that hangs up is
 * forgotten at once.
 */
export class RefusalHold {
  readonly #options: RefusalHoldOptions;
  readonly #byAddress = new Map<string, number>();
  #total = 0;

  constructor(options: RefusalHoldOptions) {
    this.#options = options;
  }

  /** Answers held now. */
  get held(): number {
    return this.#total;
  }

  /**
   * Runs `answer` after the delay (at most `untilMs`, when the refusal ends
   * sooner), or at once when holding is off or full. `onClose` registers
   * the client hanging up, after which `answer` never runs.
   */
  hold(
    address: string,
    untilMs: number,
    onClose: (listener: () => void) => void,
    answer: () => void,
  ): void {
    const delay = Math.min(this.#options.delayMs, untilMs);
    const count = this.#byAddress.get(address) ?? 0;
    if (
      delay <= 0 ||
      count >= this.#options.maxPerAddress ||
      this.#total >= this.#options.maxTotal
    ) {
      answer();
      return;
    }
    this.#byAddress.set(address, count + 1);
    this.#total += 1;
    let done = false;
    const release = () => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      this.#total -= 1;
      const left = (this.#byAddress.get(address) ?? 1) - 1;
      if (left === 0) this.#byAddress.delete(address);
      else this.#byAddress.set(address, left);
      return true;
    };
    const timer = setTimeout(() => {
      if (release()) answer();
    }, delay);
    onClose(() => {
      release();
    });
  }
}
