import {
  compareEventIds,
  type EventLog,
  GAP_EVENT_TYPE,
  type GapEventData,
  type SessionEvent,
} from './event-log.js';

/** Options of `streamSessionEvents`. */
export interface EventStreamOptions {
  /** Resume after this id: buffered events after it are replayed first. */
  lastEventId?: string | undefined;
  /** Ends the stream when aborted. */
  signal?: AbortSignal | undefined;
  /**
   * Live events held for a reader that is slower than the writers. Past it
   * the oldest are dropped and the reader gets a `gap` event.
   * @default 1_000
   */
  maxQueuedEvents?: number;
}

export const eventStreamDefaults = { maxQueuedEvents: 1_000 } as const;

/** Why a stream ended: its session's stream was dropped (deleted, expired), or it was stopped. */
export type EventStreamEnd = 'dropped' | 'aborted';

type Result = IteratorResult<SessionEvent, EventStreamEnd>;

/**
 * A session's events as one ordered stream: first what was missed after
 * `lastEventId` (preceded by a `gap` event when the buffer no longer holds
 * all of it), then live events, each exactly once and in id order.
 *
 * A `gap` event's id is the newest lost id when known (resuming after it is
 * exact), otherwise the `lastEventId` the reader came with. The stream
 * returns `'dropped'` when the session's stream is dropped (the session was
 * deleted or expired), `'aborted'` when `signal` aborts or `return()` is
 * called.
 *
 * @example
 * for await (const event of streamSessionEvents(log, sessionId, { lastEventId, signal })) {
 *   if (event.type === 'gap') reloadEverything();
 *   else apply(event);
 * }
 */
export function streamSessionEvents(
  log: EventLog,
  sessionId: string,
  options: EventStreamOptions = {},
): AsyncIterableIterator<SessionEvent, EventStreamEnd> {
  return new SessionEventStream(log, sessionId, options);
}

/**
 * The iterator behind `streamSessionEvents`. One small object per reader
 * (no generator chain): an idle reader holds one pending promise.
 */
class SessionEventStream implements AsyncIterableIterator<SessionEvent, EventStreamEnd> {
  readonly #log: EventLog;
  readonly #sessionId: string;
  readonly #signal: AbortSignal | undefined;
  readonly #maxQueued: number;
  #lastId: string | undefined;
  /** Events ready to hand out, oldest first (replay, then live). */
  #queue: SessionEvent[] = [];
  #overflowThroughId: string | undefined;
  #replay: Promise<void> | undefined;
  #waiter: ((result: Result) => void) | undefined;
  #end: EventStreamEnd | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(log: EventLog, sessionId: string, options: EventStreamOptions) {
    this.#log = log;
    this.#sessionId = sessionId;
    this.#signal = options.signal;
    this.#lastId = options.lastEventId;
    this.#maxQueued = options.maxQueuedEvents ?? eventStreamDefaults.maxQueuedEvents;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<Result> {
    this.#replay ??= this.#start();
    await this.#replay;
    const ready = this.#take();
    if (ready !== undefined) return ready;
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  async return(): Promise<Result> {
    this.#finish('aborted');
    return { done: true, value: this.#end ?? 'aborted' };
  }

  /** Subscribes first, then reads the replay, so nothing falls between the two. */
  async #start(): Promise<void> {
    if (this.#signal?.aborted === true) {
      this.#finish('aborted');
      return;
    }
    this.#signal?.addEventListener('abort', this.#onAbort);
    this.#unsubscribe = this.#log.subscribe(this.#sessionId, this.#onEvent, this.#onDrop);
    let replay: Awaited<ReturnType<EventLog['readAfter']>>;
    try {
      replay = await this.#log.readAfter(this.#sessionId, this.#lastId);
    } catch (error) {
      this.#finish('aborted');
      throw error;
    }
    // Live events that came during the read follow the replay; `#take` skips repeats.
    const head = replay.gap ? [gapEvent(this.#lastId ?? '0-0', replay.lostThroughId)] : [];
    this.#queue = [...head, ...replay.events, ...this.#queue];
  }

  /** The next event to hand out, skipping what the reader already has; undefined when none is ready. */
  #take(): Result | undefined {
    if (this.#overflowThroughId !== undefined) {
      const gap = gapEvent(this.#lastId ?? '0-0', this.#overflowThroughId);
      this.#overflowThroughId = undefined;
      this.#lastId = gap.id;
      return { done: false, value: gap };
    }
    for (let event = this.#queue.shift(); event !== undefined; event = this.#queue.shift()) {
      if (
        event.type !== GAP_EVENT_TYPE &&
        this.#lastId !== undefined &&
        compareEventIds(event.id, this.#lastId) <= 0
      ) {
        continue;
      }
      this.#lastId = event.id;
      return { done: false, value: event };
    }
    if (this.#end !== undefined) return { done: true, value: this.#end };
    return undefined;
  }

  readonly #onEvent = (event: SessionEvent): void => {
    if (this.#end !== undefined) return;
    if (this.#queue.length >= this.#maxQueued) this.#overflowThroughId = this.#queue.shift()?.id;
    this.#queue.push(event);
    this.#wake();
  };

  readonly #onDrop = (): void => {
    this.#unsubscribe = undefined;
    this.#finish('dropped');
  };

  readonly #onAbort = (): void => this.#finish('aborted');

  #finish(end: EventStreamEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    // A dropped stream (session deleted, expired or rotated) still hands out
    // what was published before it ended; an aborted one has no reader left.
    if (end === 'aborted') this.#queue = [];
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    const ready = this.#take();
    if (ready === undefined) return;
    this.#waiter = undefined;
    waiter(ready);
  }
}

/**
 * The `gap` event a reader gets when events after `lastEventId` are lost: its
 * id is the newest lost id when known, else `lastEventId`.
 */
export function gapEvent(
  lastEventId: string,
  lostThroughId: string | undefined,
): SessionEvent<GapEventData> {
  const data: GapEventData = { lastEventId };
  if (lostThroughId !== undefined) data.lostThroughId = lostThroughId;
  return { id: lostThroughId ?? lastEventId, type: GAP_EVENT_TYPE, data, at: Date.now() };
}
