import type { TRPCUntypedClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import {
  GAP_EVENT_TYPE,
  type GapEvent,
  ROTATED_EVENT_TYPE,
  type RotatedEvent,
  type SessionEvent,
} from './protocol.js';

/** Receives session events, gaps included. */
export type SessionEventHandler = (event: SessionEvent) => void;

/** What the stream reports to the client. */
export interface EventStreamHooks {
  /** Every event, gaps included, in order. */
  onEvent: (event: SessionEvent) => void;
  /**
   * The subscription failed (a server that could not start it: a store
   * outage, a node starting up). It is started again after
   * `retryDelayMs(attempt)`, and by `resume()` once connected again.
   */
  onError: (error: unknown) => void;
  /**
   * Delay before restarting a subscription that ended with an error, for
   * its `attempt`-th failure in a row (0 first; reset by the next event).
   * @default none: restarted by `resume()` only
   */
  retryDelayMs?: (attempt: number) => number;
  /**
   * The stream's session was rotated to `sessionId` (its `session.rotated`
   * notice) and the client had not followed it yet: the client adopts it,
   * calling {@link EventStream.followRotation}.
   */
  onRotated: (sessionId: string) => void;
}

/** True when `event` is a {@link GapEvent}. */
export function isGapEvent(event: SessionEvent): event is GapEvent {
  return event.type === GAP_EVENT_TYPE;
}

/**
 * True when `event` is a {@link RotatedEvent}: the server's last event on a
 * stream whose session got a new id. The client follows it itself and never
 * hands it to `subscribeEvents` or `on('event')` handlers; only a raw
 * `session.events` subscription of your own sees it.
 */
export function isRotatedEvent(event: SessionEvent): event is RotatedEvent {
  return event.type === ROTATED_EVENT_TYPE;
}

/**
 * The one `session.events` subscription a client holds, shared by every
 * handler. The WebSocket link resends the id of the last event after each
 * reconnect (tRPC `tracked()`), so the server replays what was missed or
 * sends a `gap`. If the subscription ends with an error, `resume()` starts it
 * again from the same id.
 *
 * A rotation moves the stream to the new session, from its start (no last
 * id: the new session's buffer holds everything published since the
 * rotation, and the old ids mean nothing there). The old stream ends with a
 * `session.rotated` notice after its last event, on the same socket: the
 * notice restarts the stream, so nothing is lost on either side, whether the
 * client learnt the rotation from it or earlier from a response header.
 */
export class EventStream {
  readonly #client: TRPCUntypedClient<AnyRouter>;
  readonly #hooks: EventStreamHooks;
  readonly #handlers = new Set<SessionEventHandler>();
  #subscription: Unsubscribable | undefined;
  #lastEventId: string | undefined;
  #failed = false;
  /** Failures in a row since the last event; the retry delay grows with it. */
  #failures = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts starts; callbacks of an older subscription are ignored. */
  #generation = 0;
  /**
   * The client already follows a rotation (learnt from a response header)
   * while the running subscription still belongs to the previous session:
   * it is left to end, with the notice after the old session's last events.
   */
  #draining = false;

  constructor(client: TRPCUntypedClient<AnyRouter>, hooks: EventStreamHooks) {
    this.#client = client;
    this.#hooks = hooks;
  }

  /** Id of the last event delivered. */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /** True while the subscription is running (or being restarted). */
  get active(): boolean {
    return this.#handlers.size > 0;
  }

  /** Adds a handler, starting the subscription with the first; returns its removal. */
  add(handler: SessionEventHandler): () => void {
    this.#handlers.add(handler);
    if (this.#subscription === undefined) this.#start();
    return () => {
      this.#handlers.delete(handler);
      if (this.#handlers.size === 0) this.stop();
    };
  }

  /** Restarts a subscription that ended with an error (call once connected again). */
  resume(): void {
    if (this.#failed && this.#handlers.size > 0) this.#start();
  }

  /**
   * The client's session was rotated: the stream continues on the new
   * session from its start. A running subscription is the previous
   * session's; it still delivers that session's last events and ends with
   * the rotation notice, which restarts the stream. Should its socket be
   * lost first, {@link connectionLost} restarts it instead.
   */
  followRotation(): void {
    this.#lastEventId = undefined;
    if (this.#subscription !== undefined) this.#draining = true;
  }

  /**
   * The socket closed. tRPC would resend the running subscription with its
   * last id, which means nothing to a rotated session; while draining, the
   * stream starts afresh instead (sent once the socket is back).
   */
  connectionLost(): void {
    if (this.#draining && this.#handlers.size > 0) this.#start();
  }

  /** Ends the subscription and drops every handler. */
  stop(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#failures = 0;
    this.#handlers.clear();
    this.#generation += 1;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#failed = false;
    this.#draining = false;
  }

  #start(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#failed = false;
    this.#draining = false;
    const generation = ++this.#generation;
    this.#subscription?.unsubscribe();
    const input = this.#lastEventId === undefined ? undefined : { lastEventId: this.#lastEventId };
    const current = () => generation === this.#generation;
    this.#subscription = this.#client.subscription('session.events', input, {
      onData: (value: unknown) => {
        if (current()) this.#deliver(unwrap(value));
      },
      onError: (error: unknown) => {
        if (current()) this.#ended(error);
      },
      onComplete: () => {
        if (current()) this.#ended(undefined);
      },
    });
  }

  /** The subscription ended by itself: with an error, or completed by the server. */
  #ended(error: unknown): void {
    this.#subscription = undefined;
    if (this.#draining) {
      // The previous session's stream is over (its node may not have known
      // of the rotation): continue on the new session.
      if (this.#handlers.size > 0) this.#start();
      return;
    }
    this.#failed = true;
    if (error === undefined) return;
    this.#hooks.onError(error);
    // A stream that failed while the socket stays up would otherwise stay
    // silent until the next reconnect: try again (from the same id) after a
    // jittered delay, so a crowd of clients does not retry in step.
    const delay = this.#hooks.retryDelayMs?.(this.#failures);
    this.#failures += 1;
    if (delay === undefined || this.#handlers.size === 0) return;
    const generation = this.#generation;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (generation === this.#generation && this.#failed && this.#handlers.size > 0) this.#start();
    }, delay);
  }

  /** The old session's last event: continue on the new session, from its start. */
  #onRotated(event: RotatedEvent): void {
    const followed = this.#draining;
    this.#generation += 1;
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#draining = false;
    this.#lastEventId = undefined;
    if (!followed) this.#hooks.onRotated(event.data.sessionId);
    if (this.#handlers.size > 0) this.#start();
  }

  #deliver(event: SessionEvent | undefined): void {
    if (event === undefined) return;
    if (isRotatedEvent(event)) {
      this.#onRotated(event);
      return;
    }
    this.#lastEventId = event.id;
    this.#failures = 0;
    this.#hooks.onEvent(event);
    for (const handler of [...this.#handlers]) {
      try {
        handler(event);
      } catch (error) {
        // A failing handler must not stop the others or the stream.
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }
}

/** A tracked envelope `{ id, data }` carries the event in `data`; a bare event is itself. */
function unwrap(value: unknown): SessionEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const outer = value as { id?: unknown; type?: unknown; data?: unknown };
  if (typeof outer.type === 'string' && typeof outer.id === 'string') return value as SessionEvent;
  const inner = outer.data as { type?: unknown } | undefined;
  if (
    typeof outer.id === 'string' &&
    typeof inner === 'object' &&
    inner !== null &&
    typeof inner.type === 'string'
  ) {
    return { ...(inner as Omit<SessionEvent, 'id'>), id: outer.id } as SessionEvent;
  }
  return undefined;
}
