import { tracked } from '@trpc/server';
import { z } from 'zod';
import { SessionNotFoundError } from '../errors.js';
import { streamSessionEvents } from '../events/stream.js';
import type { SessionEndedEvent } from '../manager.js';
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
    const { manager } = ctx;
    const { sessionId } = ctx.session;
    const ended = new AbortController();
    const onEnded = (event: SessionEndedEvent) => {
      if (event.sessionId === sessionId) ended.abort();
    };
    manager.on('deleted', onEnded);
    manager.on('expired', onEnded);
    try {
      const stream = streamSessionEvents(manager.events, sessionId, {
        lastEventId: input?.lastEventId ?? undefined,
        signal: signal === undefined ? ended.signal : AbortSignal.any([signal, ended.signal]),
      });
      for await (const event of stream) {
        yield tracked(event.id, event);
      }
    } finally {
      manager.off('deleted', onEnded);
      manager.off('expired', onEnded);
    }
    if (ended.signal.aborted) throw toTRPCError(new SessionNotFoundError(sessionId));
  });
