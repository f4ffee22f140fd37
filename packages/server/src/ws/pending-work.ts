/**
 * Work the WebSocket layer waits for or defers, in one place so `close()`
 * can release all of it: bounded waits for a condition (calls drained,
 * sockets closed), short deferred closes, and store writes in flight.
 * Every timer is unref'd and cleared by `clear()`.
 */
export class PendingWork {
  readonly #waiters = new Set<() => void>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #operations = new Set<Promise<void>>();

  /** Resolves true once `done()` holds (checked on each `notify()`), false after `timeoutMs`. */
  waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (result: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(result);
      };
      const check = () => {
        if (done()) finish(true);
      };
      const timer = setTimeout(() => finish(done()), timeoutMs);
      timer.unref();
      this.#waiters.add(check);
    });
  }

  /** Re-checks the conditions being waited for. */
  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Runs `fn` after `delayMs` unless `clear()` comes first. */
  later(delayMs: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Keeps a background store write until it settles; its failure is ignored. */
  track(operation: Promise<unknown>): void {
    const tracked = operation.then(
      () => undefined,
      () => {
        // Store errors here only delay bookkeeping; the sweep and TTLs repair it.
      },
    );
    this.#operations.add(tracked);
    void tracked.finally(() => this.#operations.delete(tracked));
  }

  /** Cancels deferred work. */
  clear(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Resolves once the tracked store writes have settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#operations]);
  }
}
