/** A tiny typed event emitter that works the same in browsers and Node. */
export class Emitter<TEvents extends { [K in keyof TEvents]: (...args: never[]) => void }> {
  readonly #listeners = new Map<keyof TEvents, Set<TEvents[keyof TEvents]>>();

  /** Adds `listener`; the returned function removes it. */
  on<K extends keyof TEvents>(event: K, listener: TEvents[K]): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Number of listeners of `event`. */
  listenerCount(event: keyof TEvents): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /**
   * Calls every listener of `event`. A listener that throws does not stop the
   * others nor the client: the error is rethrown on a fresh task, where the
   * platform reports it.
   */
  emit<K extends keyof TEvents>(event: K, ...args: Parameters<TEvents[K]>): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (...values: Parameters<TEvents[K]>) => void)(...args);
      } catch (error) {
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
