import type { OnlineEventSource } from './base-options.js';

/** Handlers of the browser's connectivity events. */
export interface OnlineHandlers {
  online: () => void;
  offline: () => void;
}

/**
 * Listens to `online`/`offline` on `window` (with `true`, when there is a
 * window) or on the given source, between `attach()` and `detach()`.
 */
export class OnlineWatcher {
  readonly #source: OnlineEventSource | undefined;
  readonly #handlers: OnlineHandlers;
  #attached = false;

  constructor(option: boolean | OnlineEventSource, handlers: OnlineHandlers) {
    this.#source = option === true ? windowSource() : option === false ? undefined : option;
    this.#handlers = handlers;
  }

  attach(): void {
    if (this.#attached || this.#source === undefined) return;
    this.#attached = true;
    this.#source.addEventListener('online', this.#handlers.online);
    this.#source.addEventListener('offline', this.#handlers.offline);
  }

  detach(): void {
    if (!this.#attached || this.#source === undefined) return;
    this.#attached = false;
    this.#source.removeEventListener('online', this.#handlers.online);
    this.#source.removeEventListener('offline', this.#handlers.offline);
  }
}

function windowSource(): OnlineEventSource | undefined {
  const candidate = (globalThis as { window?: Partial<OnlineEventSource> }).window;
  return typeof candidate?.addEventListener === 'function'
    ? (candidate as OnlineEventSource)
    : undefined;
}
