import { type TrackedEnvelope, tracked } from '@trpc/server';
import { z } from 'zod';
import { SessionNotFoundError } from '../errors.js';
import type { EventLog, SessionEvent } from '../events/event-log.js';
import { type EventStreamEnd, streamSessionEvents } from '../events/stream.js';
import { ROTATED_EVENT_TYPE, type RotatedEvent } from '../protocol.js';
import { toTRPCError } from './errors.js';

/** Id of the `session.rotated` notice: it belongs to no stream, and nobody resumes after it. */
export const ROTATED_EVENT_ID = '0-0';

/** The last event of a rotated session's subscriptions: the id that replaced it. */
export function rotatedEvent(newSessionId: string): RotatedEvent {
  return {
    id: ROTATED_EVENT_ID,
    type: ROTATED_EVENT_TYPE,
    data: { sessionId: newSessionId },
    at: Date.now(),
  };
}

/** Input of `session.events`. */
export const sessionEventsInput = z
  .object({
    /** Set by the tRPC client on reconnect: the id of the last event it got. */
    lastEventId: z.string().min(1).max(64).nullish(),
  })
  .optional();

/** What a `session.events` subscription is opened with. */
export interface SessionEventsRequest {
  events: EventLog;
  sessionId: string;
  /** Called once when the stream ends, however it ends. */
  onEnd?: (() => void) | undefined;
  /** The id that replaced the session, once it was rotated (`manager.rotatedTo`). */
  rotatedTo: (sessionId: string) => string | undefined;
  lastEventId: string | null | undefined;
  signal: AbortSignal | undefined;
}

/**
 * Where the iterable `sessionEvents` returns keeps its request, so that the
 * WebSocket layer can serve an admitted subscription itself
 * (`ws/event-subscriptions.ts`) instead of iterating it.
 */
const requestKey = Symbol('morgan.sessionEventsRequest');

/** The request of an iterable `sessionEvents` returned, or undefined for anything else. */
export function sessionEventsRequestOf(result: unknown): SessionEventsRequest | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  return (result as { [requestKey]?: SessionEventsRequest })[requestKey];
}

/**
 * The body of `session.events`: the session's events with increasing ids
 * (`tracked()`), so a client that reconnects resumes after the last one it
 * got. Missed events come from the replay buffer; when the buffer no longer
 * holds them all, a `{ type: 'gap' }` event comes first. A first
 * subscription (no last id) starts with what is still buffered, so events
 * published just before it (e.g. by the HTTP call that opened the page) are
 * not lost. Ends with `SESSION_NOT_FOUND` when the session is deleted or
 * expires, and with a last `session.rotated` event naming the new id when
 * it was rotated: the manager drops the session's stream, which ends this one, so
 * an idle subscription holds no listener on the manager.
 */
export function sessionEvents(
  request: SessionEventsRequest,
): AsyncIterable<TrackedEnvelope<SessionEvent>, void> {
  const { events, sessionId, lastEventId, signal, rotatedTo, onEnd } = request;
  // The stream is made when iterated, so a subscription served by the
  // WebSocket layer (which reads `requestKey`) never makes one.
  return {
    [requestKey]: request,
    [Symbol.asyncIterator]: () =>
      trackedEvents(
        sessionId,
        streamSessionEvents(events, sessionId, { lastEventId: lastEventId ?? undefined, signal }),
        rotatedTo,
        onEnd,
      ),
  } as AsyncIterable<TrackedEnvelope<SessionEvent>, void>;
}

/**
 * Wraps each event in `tracked()`; a stream that ends because its session
 * ended fails with `SESSION_NOT_FOUND`. A plain iterator object rather than
 * an async generator keeps an idle subscription small.
 */
function trackedEvents(
  sessionId: string,
  stream: AsyncIterableIterator<SessionEvent, EventStreamEnd>,
  rotatedTo: (sessionId: string) => string | undefined,
  onEnd: (() => void) | undefined,
): AsyncIterator<TrackedEnvelope<SessionEvent>, void> {
  let ended = false;
  const finish = () => {
    ended = true;
    onEnd?.();
  };
  const iterator: AsyncIterator<TrackedEnvelope<SessionEvent>, void> = {
    async next() {
      if (ended) return { done: true, value: undefined };
      const next = await stream.next();
      if (!next.done) return { done: false, value: tracked(next.value.id, next.value) };
      finish();
      if (next.value === 'dropped') {
        const newSessionId = rotatedTo(sessionId);
        if (newSessionId === undefined) throw toTRPCError(new SessionNotFoundError(sessionId));
        return { done: false, value: tracked(ROTATED_EVENT_ID, rotatedEvent(newSessionId)) };
      }
      return { done: true, value: undefined };
    },
    async return() {
      finish();
      await stream.return?.();
      return { done: true, value: undefined };
    },
  };
  return iterator;
}
