import { isTrackedEnvelope } from '@trpc/server';
import {
  type AdmittedSubscription,
  type Call,
  isAbortError,
  STARTED,
  type SubscriptionOwner,
  type SubscriptionResult,
} from './subscription.js';

/** An observable, as a legacy tRPC subscription returns one (`@trpc/server/observable`). */
interface ObservableLike {
  subscribe(observer: {
    next(value: unknown): void;
    error(cause: unknown): void;
    complete(): void;
  }): { unsubscribe(): void };
}

/** What a subscription procedure may return. */
export type SubscriptionSource = AsyncIterable<unknown> | ObservableLike;

/** True for what a subscription procedure may return: an async iterable or an observable. */
export function isSubscriptionSource(value: unknown): value is SubscriptionSource {
  if (typeof value !== 'object' || value === null) return false;
  if (Symbol.asyncIterator in value && typeof value[Symbol.asyncIterator] === 'function') {
    return true;
  }
  return 'subscribe' in value && typeof value.subscribe === 'function';
}

/**
 * A subscription whose procedure returned an async iterable (or an
 * observable): each value is sent as tRPC's adapter sends it (a `tracked()`
 * one with its id), an error answers the error, and every end answers
 * `stopped` once the source has been released. A stop aborts the
 * procedure's `signal` and answers without waiting for a value the source
 * may never yield.
 */
export class StreamSubscription implements AdmittedSubscription {
  readonly #owner: SubscriptionOwner;
  readonly #call: Call;
  readonly #controller: AbortController;
  readonly #source: SubscriptionSource;
  #iterator: AsyncIterator<unknown> | undefined;
  #unsubscribe: (() => void) | undefined;
  #ended = false;

  constructor(
    owner: SubscriptionOwner,
    call: Call,
    controller: AbortController,
    source: SubscriptionSource,
  ) {
    this.#owner = owner;
    this.#call = call;
    this.#controller = controller;
    this.#source = source;
  }

  get id(): Call['id'] {
    return this.#call.id;
  }

  start(): void {
    if (this.#ended) return;
    this.#owner.result(this.#call, STARTED);
    const source = this.#source;
    if (!(Symbol.asyncIterator in source)) {
      const subscription = source.subscribe({
        next: (value) => this.#guard(() => this.#data(value)),
        error: (cause) => this.#guard(() => this.#failed(cause)),
        complete: () => this.#guard(() => this.#end()),
      });
      if (this.#ended) subscription.unsubscribe();
      else this.#unsubscribe = () => subscription.unsubscribe();
      return;
    }
    const iterator = source[Symbol.asyncIterator]();
    this.#iterator = iterator;
    void this.#pump(iterator);
  }

  stop(): void {
    if (this.#ended) return;
    this.#controller.abort();
    void this.#end();
  }

  async #pump(iterator: AsyncIterator<unknown>): Promise<void> {
    try {
      for (;;) {
        const next = await iterator.next();
        if (this.#ended) return;
        if (next.done === true) break;
        this.#data(next.value);
      }
    } catch (cause) {
      // After a stop, only a failure that is not the stop itself is news.
      if (this.#ended) {
        if (!isAbortError(cause)) this.#owner.report(this.#call, cause);
        return;
      }
      this.#failed(cause);
      return;
    }
    await this.#end();
  }

  #data(value: unknown): void {
    if (this.#ended) return;
    let result: SubscriptionResult;
    if (isTrackedEnvelope(value)) {
      const [id, data] = value;
      result = { type: 'data', data: { id, data }, id };
    } else result = { type: 'data', data: value };
    this.#owner.result(this.#call, result);
  }

  #failed(cause: unknown): void {
    if (this.#ended) return;
    this.#owner.fail(this.#call, cause);
    this.#controller.abort();
    void this.#end();
  }

  /** Releases the source (`return()`, `unsubscribe()`), then answers `stopped`, once. */
  async #end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    try {
      const iterator =
        this.#iterator ??
        (Symbol.asyncIterator in this.#source ? this.#source[Symbol.asyncIterator]() : undefined);
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
      await iterator?.return?.();
    } catch (cause) {
      this.#owner.report(this.#call, cause);
    }
    this.#owner.ended(this, this.#call);
  }

  /** An observer callback that throws must not take the process down: the subscription fails. */
  #guard(fn: () => unknown): void {
    try {
      void fn();
    } catch (cause) {
      this.#failed(cause);
    }
  }
}
