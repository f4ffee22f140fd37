import type { JsonValue } from '../metadata.js';
import { checkEventType, encodeEventData, positiveOption } from './event-input.js';
import {
  compareEventIds,
  type EventLog,
  type EventLogOptions,
  eventLogDefaults,
  formatEventId,
  parseEventId,
  type ReadAfterResult,
  type SessionEvent,
  type SessionEventListener,
} from './event-log.js';

interface StoredEvent {
  readonly id: string;
  readonly type: string;
  /** JSON text of `data`, so every reader gets its own copy. */
  readonly json: string;
  readonly at: number;
}

interface Subscriber {
  readonly listener: SessionEventListener;
  readonly onDrop: (() => void) | undefined;
}

interface Stream {
  /** Buffered events, oldest first. */
  readonly events: StoredEvent[];
  /** First id this log ever gave the session: older ids come from elsewhere. */
  readonly firstId: string;
  /** Newest id dropped from the buffer. */
  lostThroughId: string | undefined;
  lastMs: number;
  lastSeq: number;
}

/**
 * The embedded event log: per-session buffers in this process. It is the
 * reference implementation of `EventLog`; several nodes need a shared one.
 *
 * Trimming is lazy (on `append` and `readAfter`), so the log owns no timer.
 * A session's bookkeeping stays until `drop`, which `SessionManager` calls
 * when the session is deleted or expires.
 *
 * @example
 * const log = new MemoryEventLog({ maxEvents: 50 });
 * await log.append(sessionId, 'chat.reply', { text: 'hi' });
 * const { events, gap } = await log.readAfter(sessionId, lastEventId);
 */
export class MemoryEventLog implements EventLog {
  readonly maxEvents: number;
  readonly maxAgeMs: number;
  readonly maxEventBytes: number;
  readonly #now: () => number;
  readonly #streams = new Map<string, Stream>();
  /** Per session: its one subscriber (the usual case), or a set past one. */
  readonly #subscribers = new Map<string, Subscriber | Set<Subscriber>>();

  constructor(options: EventLogOptions = {}) {
    this.maxEvents = positiveOption('maxEvents', options.maxEvents ?? eventLogDefaults.maxEvents);
    this.maxAgeMs = positiveOption('maxAgeMs', options.maxAgeMs ?? eventLogDefaults.maxAgeMs);
    this.maxEventBytes = positiveOption(
      'maxEventBytes',
      options.maxEventBytes ?? eventLogDefaults.maxEventBytes,
    );
    this.#now = options.now ?? Date.now;
  }

  async append<TData extends JsonValue>(
    sessionId: string,
    type: string,
    data: TData,
  ): Promise<SessionEvent<TData>> {
    checkEventType(type);
    const json = encodeEventData(data, this.maxEventBytes);
    const now = this.#now();
    let stream = this.#streams.get(sessionId);
    const ms = Math.max(now, stream?.lastMs ?? 0);
    const seq = stream !== undefined && ms === stream.lastMs ? stream.lastSeq + 1 : 0;
    const stored: StoredEvent = { id: formatEventId(ms, seq), type, json, at: now };
    if (stream === undefined) {
      stream = {
        events: [],
        firstId: stored.id,
        lostThroughId: undefined,
        lastMs: ms,
        lastSeq: seq,
      };
      this.#streams.set(sessionId, stream);
    }
    stream.lastMs = ms;
    stream.lastSeq = seq;
    stream.events.push(stored);
    this.#trim(stream, now);
    for (const { listener } of subscribersOf(this.#subscribers.get(sessionId))) {
      try {
        listener(toEvent(stored));
      } catch {
        // A failing listener must not stop delivery to the others.
      }
    }
    return toEvent(stored) as SessionEvent<TData>;
  }

  async readAfter(sessionId: string, lastEventId?: string): Promise<ReadAfterResult> {
    const stream = this.#streams.get(sessionId);
    if (stream === undefined) return { events: [], gap: lastEventId !== undefined };
    this.#trim(stream, this.#now());
    if (lastEventId === undefined) return { events: stream.events.map(toEvent), gap: false };
    const known = parseEventId(lastEventId) !== undefined;
    const lost = stream.lostThroughId;
    const gap =
      !known ||
      compareEventIds(lastEventId, stream.firstId) < 0 ||
      (lost !== undefined && compareEventIds(lastEventId, lost) < 0);
    let start = stream.events.length;
    while (
      start > 0 &&
      compareEventIds((stream.events[start - 1] as StoredEvent).id, lastEventId) > 0
    ) {
      start -= 1;
    }
    const result: ReadAfterResult = { events: stream.events.slice(start).map(toEvent), gap };
    if (gap && lost !== undefined) result.lostThroughId = lost;
    return result;
  }

  subscribe(sessionId: string, listener: SessionEventListener, onDrop?: () => void): () => void {
    const subscriber: Subscriber = { listener, onDrop };
    const held = this.#subscribers.get(sessionId);
    if (held === undefined) this.#subscribers.set(sessionId, subscriber);
    else if (held instanceof Set) held.add(subscriber);
    else this.#subscribers.set(sessionId, new Set([held, subscriber]));
    return () => {
      const current = this.#subscribers.get(sessionId);
      if (current === subscriber) this.#subscribers.delete(sessionId);
      else if (current instanceof Set) {
        current.delete(subscriber);
        if (current.size === 0) this.#subscribers.delete(sessionId);
      }
    };
  }

  async drop(sessionId: string): Promise<void> {
    this.#streams.delete(sessionId);
    const subscribers = this.#subscribers.get(sessionId);
    this.#subscribers.delete(sessionId);
    for (const { onDrop } of subscribersOf(subscribers)) {
      try {
        onDrop?.();
      } catch {
        // A failing subscriber must not stop the others from ending.
      }
    }
  }

  async close(): Promise<void> {
    this.#streams.clear();
    this.#subscribers.clear();
  }

  /** Live subscriptions, for tests and metrics. */
  get subscriberCount(): number {
    let count = 0;
    for (const held of this.#subscribers.values()) count += held instanceof Set ? held.size : 1;
    return count;
  }

  /** Sessions with buffered state, for tests and metrics. */
  get size(): number {
    return this.#streams.size;
  }

  #trim(stream: Stream, now: number): void {
    const { events } = stream;
    let drop = Math.max(0, events.length - this.maxEvents);
    while (drop < events.length && now - (events[drop] as StoredEvent).at > this.maxAgeMs)
      drop += 1;
    if (drop === 0) return;
    stream.lostThroughId = (events[drop - 1] as StoredEvent).id;
    events.splice(0, drop);
  }
}

/** A session's subscribers as a list (a copy when a set, so a listener may unsubscribe). */
function subscribersOf(held: Subscriber | Set<Subscriber> | undefined): readonly Subscriber[] {
  if (held === undefined) return [];
  return held instanceof Set ? [...held] : [held];
}

function toEvent(stored: StoredEvent): SessionEvent {
  return {
    id: stored.id,
    type: stored.type,
    data: JSON.parse(stored.json) as JsonValue,
    at: stored.at,
  };
}
