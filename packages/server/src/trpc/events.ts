import { tracked } from '@trpc/server';
import { z } from 'zod';
import { SessionNotFoundError } from '../errors.js';
import { streamSessionEvents } from '../events/stream.js';
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
  .subscription(async function* ({ ctx, input, signal }) {
    const { sessionId } = ctx.session;
    // The manager drops the session's stream when it is deleted or expires,
    // which ends this stream: no per-subscription listener on the manager.
    const stream = streamSessionEvents(ctx.manager.events, sessionId, {
      lastEventId: input?.lastEventId ?? undefined,
      signal,
    });
    try {
      for (;;) {
        const next = await stream.next();
        if (next.done) {
          if (next.value === 'dropped') throw toTRPCError(new SessionNotFoundError(sessionId));
          return;
        }
        yield tracked(next.value.id, next.value);
      }
    } finally {
      await stream.return('aborted');
    }
  });
