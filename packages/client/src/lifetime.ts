/**
 * The client's lifetime, which every part consults: it is over once
 * `close()` starts (or a fatal error closes the client), and its signal ends
 * pending waits and the client's own calls during the shutdown.
 */
export class ClientLifetime {
  readonly #controller = new AbortController();
  #ending: Promise<void> | undefined;

  /** Aborted by the shutdown: `Retry-After` waits and the client's session calls end. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the client is closing: nothing new starts. */
  get closed(): boolean {
    return this.#ending !== undefined;
  }

  /**
   * Runs `shutdown` the first time and returns its promise, the same one
   * every time after. The client counts as closed once `shutdown` returned
   * (its synchronous part has run), as parts it stops may still ask.
   */
  end(shutdown: () => Promise<void>): Promise<void> {
    this.#ending ??= shutdown();
    return this.#ending;
  }

  /** Ends pending waits and calls bound to the client's lifetime. */
  abort(): void {
    this.#controller.abort();
  }
}
