import type { AnyTRPCRouter as AnyRouter } from '@trpc/server';
import { SessionNotFoundError } from '../errors.js';
import {
  compareEventIds,
  type EventLog,
  GAP_EVENT_TYPE,
  type SessionEvent,
} from '../events/event-log.js';
import { eventStreamDefaults, gapEvent } from '../events/stream.js';
import type { SessionManager } from '../manager.js';
import { toTRPCError } from '../trpc/errors.js';
import {
  ROTATED_EVENT_ID,
  rotatedEvent,
  type SessionEventsRequest,
  sessionEventsRequestOf,
} from '../trpc/events.js';
import { isSessionEventsProcedure } from '../trpc/procedures.js';
import {
  type AdmittedSubscription,
  type Call,
  STARTED,
  type SubscriptionOwner,
} from './subscription.js';

/** The path Morgan's session router serves its events at. */
export const SESSION_EVENTS_PATH = 'session.events';

/** Options of `SessionEventsServer.for`. */
export interface SessionEventsServerOptions {
  /** The manager whose sessions' rotations the subscriptions follow. */
  manager: SessionManager;
}

/**
 * Serves `session.events` subscriptions with state of Morgan's own, in
 * tRPC's wire format, so that an idle client holds one small object and no
 * async iterator: its connection's tRPC handler admits the subscription by
 * running the procedure as any other (capacity, session, input,
 * `maxSubscriptionsPerSocket`, the error formatter), and when the result is
 * Morgan's event stream, serves it here instead of iterating it.
 *
 * Only a router whose `session.events` is Morgan's own (built by
 * `createMorganProcedures`) has one; other subscriptions, and Morgan's
 * procedure mounted at another path, are iterated as tRPC's adapter would.
 */
export class SessionEventsServer {
  readonly #manager: SessionManager;

  private constructor(options: SessionEventsServerOptions) {
    this.#manager = options.manager;
  }

  /** A server for `router`, or undefined when its `session.events` is not Morgan's. */
  static for(
    router: AnyRouter,
    options: SessionEventsServerOptions,
  ): SessionEventsServer | undefined {
    const procedures: Record<string, unknown> = router._def.procedures;
    if (!isSessionEventsProcedure(procedures[SESSION_EVENTS_PATH])) return undefined;
    return new SessionEventsServer(options);
  }

  /**
   * The subscription serving an admitted `session.events` call, or
   * undefined when the procedure's result is not Morgan's event stream.
   */
  serve(owner: SubscriptionOwner, call: Call, result: unknown): AdmittedSubscription | undefined {
    const request = sessionEventsRequestOf(result);
    return request === undefined ? undefined : new EventSubscription(owner, call, request);
  }

  /** The id that replaced a rotated session (`manager.rotatedTo`). */
  rotatedTo(sessionId: string): string | undefined {
    return this.#manager.rotatedTo(sessionId);
  }
}

/**
 * `admitted` (not started yet), `replaying` (reading what was missed),
 * `dropping` (its stream was dropped meanwhile), `live`, `ended`.
 */
type Phase = 'admitted' | 'replaying' | 'dropping' | 'live' | 'ended';

/**
 * One `session.events` subscription, admitted by tRPC's procedure, then
 * subscribed to the session's event log. The replay after `lastEventId` is
 * read after subscribing, live events that come meanwhile are held and
 * follow it, each event once, in id order; then each event is sent as it
 * is appended (a client that does not read is closed by the socket's
 * `maxBufferedBytes`). It ends when the client stops it, the socket closes,
 * or the session's stream is dropped: after a last `session.rotated` event
 * when the session was rotated, else with `SESSION_NOT_FOUND`.
 */
class EventSubscription implements AdmittedSubscription, Call {
  readonly #owner: SubscriptionOwner;
  readonly id: Call['id'];
  readonly jsonrpc: Call['jsonrpc'];
  readonly input: unknown;
  #phase: Phase = 'admitted';
  readonly #events: EventLog;
  readonly #sessionId: string;
  /** Gives back the socket's subscription slot; called once, when it ends. */
  #onEnd: (() => void) | undefined;
  #lastId: string | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Live events that came while the replay was read. */
  #held: SessionEvent[] | undefined;
  /** Newest held event dropped because too many were held. */
  #overflowThroughId: string | undefined;

  /** Keeps what its answers and errors need of `call`, not `call` (every idle client holds one). */
  constructor(owner: SubscriptionOwner, call: Call, request: SessionEventsRequest) {
    this.#owner = owner;
    this.id = call.id;
    this.jsonrpc = call.jsonrpc;
    this.input = call.input;
    this.#events = request.events;
    this.#sessionId = request.sessionId;
    this.#onEnd = request.onEnd;
    this.#lastId = request.lastEventId ?? undefined;
  }

  get type(): 'subscription' {
    return 'subscription';
  }

  get path(): string {
    return SESSION_EVENTS_PATH;
  }

  /** Answers `started`, subscribes, then reads the replay, so nothing falls between the two. */
  start(): void {
    if (this.#phase !== 'admitted') return;
    this.#respond(STARTED);
    this.#phase = 'replaying';
    this.#held = [];
    const sessionId = this.#sessionId;
    let replay: ReturnType<EventLog['readAfter']>;
    try {
      this.#unsubscribe = this.#events.subscribe(
        sessionId,
        (event) => this.#onEvent(event),
        () => this.#onDrop(),
      );
      replay = this.#events.readAfter(sessionId, this.#lastId);
    } catch (cause) {
      replay = Promise.reject(cause);
    }
    replay.then(
      (replay) => {
        const dropped = this.#phase === 'dropping';
        if (this.#phase !== 'replaying' && !dropped) return;
        const held = this.#held ?? [];
        this.#held = undefined;
        this.#phase = 'live';
        const after = this.#lastId ?? '0-0';
        if (this.#overflowThroughId !== undefined) {
          this.#send(gapEvent(after, this.#overflowThroughId));
          this.#overflowThroughId = undefined;
        }
        if (replay.gap) this.#send(gapEvent(after, replay.lostThroughId));
        for (const event of replay.events) this.#deliver(event);
        for (const event of held) this.#deliver(event);
        if (dropped) this.#dropped();
      },
      (cause: unknown) => {
        if (this.#phase !== 'replaying' && this.#phase !== 'dropping') return;
        // As a stream whose read fails: an error, then `stopped`.
        this.#owner.fail(this, cause);
        this.#end();
      },
    );
  }

  stop(): void {
    this.#end();
  }

  #onEvent(event: SessionEvent): void {
    if (this.#phase === 'live') {
      this.#deliver(event);
      return;
    }
    const held = this.#held;
    if (held === undefined || this.#phase !== 'replaying') return;
    if (held.length >= eventStreamDefaults.maxQueuedEvents) {
      this.#overflowThroughId = held.shift()?.id;
    }
    held.push(event);
  }

  #onDrop(): void {
    this.#unsubscribe = undefined;
    if (this.#phase === 'replaying') this.#phase = 'dropping';
    else if (this.#phase === 'live') this.#dropped();
  }

  /** The session's stream was dropped: rotated (a last notice), or ended. */
  #dropped(): void {
    const sessionId = this.#sessionId;
    this.#release();
    const newSessionId = this.#owner.rotatedTo(sessionId);
    if (newSessionId === undefined) {
      this.#owner.fail(this, toTRPCError(new SessionNotFoundError(sessionId)));
    } else this.#respondEvent(ROTATED_EVENT_ID, rotatedEvent(newSessionId));
    this.#end();
  }

  /** Sends an event unless the client has it already (the replay and live events overlap). */
  #deliver(event: SessionEvent): void {
    if (
      event.type !== GAP_EVENT_TYPE &&
      this.#lastId !== undefined &&
      compareEventIds(event.id, this.#lastId) <= 0
    ) {
      return;
    }
    this.#send(event);
  }

  #send(event: SessionEvent): void {
    this.#lastId = event.id;
    this.#respondEvent(event.id, event);
  }

  /** A `tracked()` event, as tRPC's adapter sends it. */
  #respondEvent(id: string, event: SessionEvent): void {
    this.#respond({ type: 'data', data: { id, data: event }, id });
  }

  #respond(result: Parameters<SubscriptionOwner['result']>[1]): void {
    try {
      this.#owner.result(this, result);
    } catch (cause) {
      // A transformer that cannot serialise it: the client gets the error instead.
      this.#owner.fail(this, cause);
    }
  }

  /** Releases everything and answers `stopped`, once. */
  #end(): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#held = undefined;
    this.#release();
    this.#owner.ended(this, this);
  }

  #release(): void {
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
  }
}
