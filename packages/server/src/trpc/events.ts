import { type TrackedEnvelope, tracked } from '@trpc/server';
import { z } from 'zod';
import { SessionNotFoundError } from '../errors.js';
import type { SessionEvent } from '../events/event-log.js';
import { type EventStreamEnd, streamSessionEvents } from '../events/stream.js';
import { sessionProcedure, toTRPCError } from './init.js';

const eventsInput = z
  .object({
    /** Set by the tRPC client on reconnect: the id of the last event it got. */
    lastEventId: z.string().min(1).max(64).nullish(),
  })
  .optional();

/**
 * `session.events`: the caller's session events with increasing ids
 * (`tracked()`), so a client that reconnects resumes after the last one it
 * got. Missed events come from the replay buffer; when the buffer no longer
 * holds them all, a `{ type: 'gap' }` event comes first. A first
 * subscription (no last id) starts with what is still buffered, so events
 * published just before it (e.g. by the HTTP call that opened the page) are
 * not lost. Ends with
 * `SESSION_NOT_FOUND` when the session is deleted or expires.
 *
 * @example
 * trpc.session.events.subscribe(undefined, {
 *   onData: ({ data: event }) => (event.type === 'gap' ? reload() : show(event)),
 * });
 */
export const sessionEventsProcedure = sessionProcedure
  .input(eventsInput)
  .subscription(({ ctx, input, signal }) =>
    trackedEvents(
      ctx.session.sessionId,
      // The manager drops the session's stream when it is deleted or expires,
      // which ends this one: no per-subscription listener on the manager.
      streamSessionEvents(ctx.manager.events, ctx.session.sessionId, {
        lastEventId: input?.lastEventId ?? undefined,
        signal,
      }),
    ),
  );

/**
 * Wraps each event in `tracked()`; a stream that ends because its session
 * ended fails with `SESSION_NOT_FOUND`. A plain iterator object rather than
 * an async generator keeps an idle subscription small.
 */
function trackedEvents(
  sessionId: string,
  stream: AsyncIterableIterator<SessionEvent, EventStreamEnd>,
): AsyncIterable<TrackedEnvelope<SessionEvent>, void> {
  const iterator: AsyncIterator<TrackedEnvelope<SessionEvent>, void> = {
    async next() {
      const next = await stream.next();
      if (!next.done) return { done: false, value: tracked(next.value.id, next.value) };
      if (next.value === 'dropped') throw toTRPCError(new SessionNotFoundError(sessionId));
      return { done: true, value: undefined };
    },
    async return() {
      await stream.return?.();
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}
