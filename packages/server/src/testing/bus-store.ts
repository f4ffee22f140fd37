import { MemoryStore } from '../store/memory.js';
import type { StoreEvent } from '../store/store.js';

/**
 * A MemoryStore that announces events as if another node sent them (what
 * RedisStore's pub/sub delivers), for tests of cross-node reactions.
 */
export class BusStore extends MemoryStore {
  #listener: ((event: StoreEvent) => void) | undefined;

  override subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listener = listener;
    return () => {
      this.#listener = undefined;
    };
  }

  announce(event: StoreEvent): void {
    this.#listener?.(event);
  }
}
