import type { JsonValue, SessionEvent } from '../protocol.js';

export {
  GAP_EVENT_TYPE,
  type GapEvent,
  type GapEventData,
  type SessionEvent,
} from '../protocol.js';

/** What `readAfter` returns. */
export interface ReadAfterResult {
  /** Buffered events after the given id, oldest first. */
  events: SessionEvent[];
  /**
   * True when events after the given id were dropped from the buffer (by
   * count or age), or when the log has no record of the session although
   * the reader had seen events: what the reader missed is then unknown.
   */
  gap: boolean;
  /** With `gap`, the newest dropped id when known: reading after it is exact again. */
  lostThroughId?: string;
}

/** Receives events appended to one session after `subscribe`. */
export type SessionEventListener = (event: SessionEvent) => void;

/**
 * The per-session event stream with a bounded replay buffer.
 *
 * Implementations keep, per session, the newest events up to a count and an
 * age (`eventLogDefaults`), plus the id of the newest event they dropped, so
 * a reader that comes back with its last id learns whether it missed
 * anything. The contract is shaped so a shared implementation can serve
 * every node: ids are comparable and increase per session, `append` is one
 * atomic operation (`RedisEventLog`: one script with `XADD`, trims and
 * `PUBLISH`; `XRANGE (id +` to read after an id).
 */
export interface EventLog {
  /** Appends an event and delivers it to the session's subscribers. */
  append<TData extends JsonValue>(
    sessionId: string,
    type: string,
    data: TData,
  ): Promise<SessionEvent<TData>>;
  /**
   * Buffered events after `lastEventId` (all buffered events without one),
   * and whether some events after it are no longer buffered.
   */
  readAfter(sessionId: string, lastEventId?: string): Promise<ReadAfterResult>;
  /**
   * Delivers events appended from now on; returns the unsubscribe function.
   * `onDrop` is called once when the session's stream is dropped, after
   * which the subscription is gone.
   */
  subscribe(sessionId: string, listener: SessionEventListener, onDrop?: () => void): () => void;
  /** Forgets a session's events and ends its subscriptions (call when it is deleted or expires). */
  drop(sessionId: string): Promise<void>;
  /** Releases buffers, listeners and connections. */
  close(): Promise<void>;
  /**
   * Called once by the manager that takes the log into use, so a shared log
   * can keep its keys as long as a session may live.
   */
  configure?(settings: EventLogSettings): void;
}

/** What the manager tells an event log when it takes it into use. */
export interface EventLogSettings {
  /** Idle time after which a session expires, in milliseconds. */
  sessionTimeoutMs: number;
}

/** Options of an event log. */
export interface EventLogOptions {
  /** Events kept per session for replay. @default 100 */
  maxEvents?: number;
  /** Longest time an event is kept for replay, in ms. @default 300_000 (5 min) */
  maxAgeMs?: number;
  /** Largest serialised `data` of one event, in bytes. @default 65_536 */
  maxEventBytes?: number;
  /** Clock in epoch ms, for tests. @default Date.now */
  now?: () => number;
}

export const eventLogDefaults = {
  maxEvents: 100,
  maxAgeMs: 5 * 60 * 1000,
  maxEventBytes: 64 * 1024,
} as const;

const EVENT_ID = /^(\d{1,16})-(\d{1,16})$/;

/** The two numeric parts of an event id, or undefined when it is not one. */
export function parseEventId(id: string): [ms: number, seq: number] | undefined {
  const match = EVENT_ID.exec(id);
  if (match === null) return undefined;
  return [Number(match[1]), Number(match[2])];
}

/** Formats an event id from its parts. */
export function formatEventId(ms: number, seq: number): string {
  return `${ms}-${seq}`;
}

/**
 * Orders two event ids: negative when `a` is older, positive when newer, 0
 * when equal. Ids that do not parse sort before every valid id.
 *
 * @example
 * compareEventIds('1700000000000-2', '1700000000000-10') // < 0
 */
export function compareEventIds(a: string, b: string): number {
  const left = parseEventId(a);
  const right = parseEventId(b);
  if (left === undefined || right === undefined) {
    return (left === undefined ? 0 : 1) - (right === undefined ? 0 : 1);
  }
  return left[0] - right[0] || left[1] - right[1];
}
