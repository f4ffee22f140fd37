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

/** Why a stream ended: its session's stream was dropped (deleted, expired), or the signal aborted. */
export type EventStreamEnd = 'dropped' | 'aborted';

/**
 * A session's events as one ordered stream: first what was missed after
 * `lastEventId` (preceded by a `gap` event when the buffer no longer holds
 * all of it), then live events, each exactly once and in id order.
 *
 * A `gap` event's id is the newest lost id when known (resuming after it is
 * exact), otherwise the `lastEventId` the reader came with. The stream
 * returns `'dropped'` when the session's stream is dropped (the session was
 * deleted or expired), `'aborted'` when `signal` aborts.
 *
 * @example
 * for await (const event of streamSessionEvents(log, sessionId, { lastEventId, signal })) {
 *   if (event.type === 'gap') reloadEverything();
 *   else apply(event);
 * }
 */
export async function* streamSessionEvents(
  log: EventLog,
  sessionId: string,
  options: EventStreamOptions = {},
): AsyncGenerator<SessionEvent, EventStreamEnd, undefined> {
  const { signal } = options;
  const maxQueued = options.maxQueuedEvents ?? eventStreamDefaults.maxQueuedEvents;
  const queue: SessionEvent[] = [];
  let overflowThroughId: string | undefined;
  let wake: (() => void) | undefined;
  let dropped = false;
  const unsubscribe = log.subscribe(
    sessionId,
    (event) => {
      if (queue.length >= maxQueued) overflowThroughId = queue.shift()?.id;
      queue.push(event);
      wake?.();
    },
    () => {
      dropped = true;
      wake?.();
    },
  );
  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  try {
    // Subscribed before reading, so nothing falls between replay and live.
    const replay = await log.readAfter(sessionId, options.lastEventId);
    let lastId = options.lastEventId;
    if (replay.gap) {
      const gap = gapEvent(lastId ?? '0-0', replay.lostThroughId);
      yield gap;
      lastId = gap.id;
    }
    for (const event of replay.events) {
      yield event;
      lastId = event.id;
    }
    while (signal?.aborted !== true && !dropped) {
      if (overflowThroughId !== undefined) {
        const gap = gapEvent(lastId ?? '0-0', overflowThroughId);
        overflowThroughId = undefined;
        yield gap;
        lastId = gap.id;
      }
      const next = queue.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      if (lastId !== undefined && compareEventIds(next.id, lastId) <= 0) continue;
      yield next;
      lastId = next.id;
    }
    return dropped ? 'dropped' : 'aborted';
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}

function gapEvent(
  lastEventId: string,
  lostThroughId: string | undefined,
): SessionEvent<GapEventData> {
  const data: GapEventData = { lastEventId };
  if (lostThroughId !== undefined) data.lostThroughId = lostThroughId;
  return { id: lostThroughId ?? lastEventId, type: GAP_EVENT_TYPE, data, at: Date.now() };
}
