import type { TRPCUntypedClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { Unsubscribable } from '@trpc/server/observable';
import { GAP_EVENT_TYPE, type GapEvent, type SessionEvent } from './protocol.js';

export type { GapEvent, SessionEvent } from './protocol.js';

/** Receives session events, gaps included. */
export type SessionEventHandler = (event: SessionEvent) => void;

/** What the stream reports to the client. */
export interface EventStreamHooks {
  /** Every event, gaps included, in order. */
  onEvent: (event: SessionEvent) => void;
  /** The subscription failed; it is restarted by `resume()`. */
  onError: (error: unknown) => void;
}

/** True when `event` is a {@link GapEvent}. */
export function isGapEvent(event: SessionEvent): event is GapEvent {
  return event.type === GAP_EVENT_TYPE;
}

/**
 * The one `session.events` subscription a client holds, shared by every
 * handler. The WebSocket link resends the id of the last event after each
 * reconnect (tRPC `tracked()`), so the server replays what was missed or
 * sends a `gap`. If the subscription ends with an error, `resume()` starts it
 * again from the same id.
 */
export class EventStream {
  readonly #client: TRPCUntypedClient<AnyRouter>;
  readonly #hooks: EventStreamHooks;
  readonly #handlers = new Set<SessionEventHandler>();
  #subscription: Unsubscribable | undefined;
  #lastEventId: string | undefined;
  #failed = false;

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

  /** Ends the subscription and drops every handler. */
  stop(): void {
    this.#handlers.clear();
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#failed = false;
  }

  #start(): void {
    this.#failed = false;
    this.#subscription?.unsubscribe();
    const input = this.#lastEventId === undefined ? undefined : { lastEventId: this.#lastEventId };
    this.#subscription = this.#client.subscription('session.events', input, {
      onData: (value: unknown) => this.#deliver(unwrap(value)),
      onError: (error: unknown) => {
        this.#subscription = undefined;
        this.#failed = true;
        this.#hooks.onError(error);
      },
    });
  }

  #deliver(event: SessionEvent | undefined): void {
    if (event === undefined) return;
    this.#lastEventId = event.id;
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
