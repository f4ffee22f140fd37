import type { IncomingMessage } from 'node:http';
import type { AnyTRPCRouter as AnyRouter } from '@trpc/server';
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  TRPCError,
  transformTRPCResponse,
} from '@trpc/server';
import { parseTRPCMessage } from '@trpc/server/rpc';
import type { RawData } from 'ws';
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

/** The path Morgan's session router serves its events at. */
const PATH = 'session.events';
/** `WebSocket.OPEN`, for any socket-like object. */
const OPEN = 1;

/**
 * What the subscriptions use of a socket: `ws`'s `WebSocket`, or any object
 * shaped like it that `handOff` gives tRPC (a multiplexed virtual channel).
 */
export interface EventSocket {
  on(event: 'message', listener: Listener): unknown;
  once(event: 'close', listener: Listener): unknown;
  off(event: 'message' | 'close', listener: Listener): unknown;
  listeners(event: 'message' | 'close'): unknown[];
  send(data: string): void;
  readonly readyState: number;
}

type Listener = (...args: unknown[]) => void;

/** What tRPC's `onError` gets, as its ws adapter reports it. */
export interface EventErrorInfo {
  error: TRPCError;
  type: 'subscription';
  path: string;
  input: unknown;
  ctx: unknown;
  req: IncomingMessage;
}

/** Options of `SessionEventsServer.for`. */
export interface SessionEventsServerOptions {
  /** The manager whose contexts the sockets get. */
  manager: SessionManager;
  /** tRPC's `onError`, called as its ws adapter would. */
  onError?: ((info: EventErrorInfo) => void) | undefined;
  /** Longest batch of messages served (tRPC's `maxBatchSize`); longer ones go to tRPC. */
  maxBatchSize?: number | undefined;
}

/** A message of the tRPC ws protocol, as `parseTRPCMessage` returns it. */
type ParsedMessage = ReturnType<typeof parseTRPCMessage>;
type RequestId = NonNullable<ParsedMessage['id']>;
type Forward = (data: RawData, isBinary: boolean) => void;

/** What a client gets when its error cannot be formatted (tRPC's fallback shape). */
const fallbackErrorShape = {
  code: -32603,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

/**
 * Serves `session.events` subscriptions on Morgan's sockets with state of
 * its own, in tRPC's ws wire format, so tRPC's per-subscription machinery
 * (abort controllers, async iterator wrappers, racing promises) is not held
 * by every idle client. Admission still runs tRPC's procedure (capacity,
 * session, input, `maxSubscriptionsPerSocket`, the error formatter); once
 * admitted, a subscription is one small object that listens on the event
 * log and sends each event as it comes.
 *
 * Only a router whose `session.events` is Morgan's own (built by
 * `createMorganProcedures`) is served; every other message of the socket
 * goes to tRPC unchanged.
 */
export class SessionEventsServer {
  readonly #router: AnyRouter;
  readonly #onError: SessionEventsServerOptions['onError'];
  readonly #maxBatchSize: number | undefined;
  readonly #manager: SessionManager;

  private constructor(router: AnyRouter, options: SessionEventsServerOptions) {
    this.#router = router;
    this.#manager = options.manager;
    this.#onError = options.onError;
    this.#maxBatchSize = options.maxBatchSize;
  }

  /** A server for `router`, or undefined when its `session.events` is not Morgan's. */
  static for(
    router: AnyRouter,
    options: SessionEventsServerOptions,
  ): SessionEventsServer | undefined {
    const procedures = router._def.procedures as Record<string, unknown>;
    if (!isSessionEventsProcedure(procedures[PATH])) return undefined;
    return new SessionEventsServer(router, options);
  }

  /**
   * Serves `session.events` on `ws`, which `handOff` gives tRPC: the
   * `'message'` and `'close'` listeners tRPC adds meanwhile are swapped for
   * ones that serve this first, so tRPC only gets the other messages. A
   * socket where tRPC did not add one of each (or that `handOff` gave no
   * context) is left to tRPC as it is.
   */
  adopt(ws: EventSocket, req: IncomingMessage, handOff: (socket: SocketEvents) => void): void {
    const socket = new SocketEvents(this, ws, req);
    if (!isEmitter(ws)) {
      handOff(socket);
      return;
    }
    const messageListeners = ws.listeners('message');
    const closeListeners = ws.listeners('close');
    handOff(socket);
    const message = added(ws.listeners('message'), messageListeners);
    const close = added(ws.listeners('close'), closeListeners);
    if (message === undefined || close === undefined || socket.context === undefined) return;
    ws.off('message', message);
    ws.off('close', close);
    ws.on('message', (data, isBinary) => {
      // A listener that throws would take the process down: nothing may.
      try {
        socket.message(data as RawData, isBinary === true, message);
      } catch (cause) {
        socket.unexpected(cause);
      }
    });
    ws.once('close', (...args: unknown[]) => {
      try {
        socket.closed();
      } catch (cause) {
        socket.unexpected(cause);
      }
      close(...args);
    });
  }

  // For SocketEvents and EventSubscription.

  get config(): AnyRouter['_def']['_config'] {
    return this.#router._def._config;
  }

  get maxBatchSize(): number | undefined {
    return this.#maxBatchSize;
  }

  admit(context: unknown, input: unknown): Promise<unknown> {
    return callTRPCProcedure({
      router: this.#router,
      path: PATH,
      getRawInput: async () => input,
      ctx: context,
      type: 'subscription',
      signal: undefined,
      batchIndex: 0,
    });
  }

  /** The id that replaced a rotated session (`manager.rotatedTo`). */
  rotatedTo(sessionId: string): string | undefined {
    return this.#manager.rotatedTo(sessionId);
  }

  /** tRPC's `onError`; one that throws or rejects is ignored, as tRPC does. */
  report(info: EventErrorInfo): void {
    if (this.#onError === undefined) return;
    try {
      const result = this.#onError(info) as unknown;
      if (result instanceof Promise) result.catch(() => undefined);
    } catch {
      // An onError that fails must not stop the subscription's answers.
    }
  }
}

/**
 * One socket's `session.events` subscriptions, by request id. The socket's
 * tRPC context (made once per socket) is shared with tRPC's calls.
 */
export class SocketEvents {
  readonly server: SessionEventsServer;
  readonly ws: EventSocket;
  readonly req: IncomingMessage;
  /** The socket's tRPC context, as tRPC's `createContext` made it. */
  context: Promise<unknown> | undefined;
  /** The context once made, for error formatters. */
  ctx: unknown;
  /** The socket's one subscription (what nearly every client holds), then a map past one. */
  #subscriptions: EventSubscription | Map<RequestId, EventSubscription> | undefined;

  constructor(server: SessionEventsServer, ws: EventSocket, req: IncomingMessage) {
    this.server = server;
    this.ws = ws;
    this.req = req;
  }

  /** A message of the socket: served here when it is for `session.events`, else `forward`ed. */
  message(data: RawData, isBinary: boolean, forward: Forward): void {
    if (isBinary || !Buffer.isBuffer(data) || this.context === undefined) {
      forward(data, isBinary);
      return;
    }
    const text = data.toString('utf8');
    // Only subscriptions and stops are ours; the rest is not parsed twice.
    if (
      !text.includes('subscription') &&
      !(this.#subscriptions !== undefined && text.includes('\\'))
    ) {
      forward(data, isBinary);
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      forward(data, isBinary);
      return;
    }
    if (!Array.isArray(message)) {
      const parsed = this.#ours(message) ? parse(message, this.server) : undefined;
      if (parsed === undefined) forward(data, isBinary);
      else this.#serve(parsed);
      return;
    }
    this.#batch(message, data, forward);
  }

  /**
   * A batch: the elements for `session.events` are served here, the others
   * go to tRPC as a batch of their own. A batch tRPC would refuse whole (too
   * long, or an element it cannot parse) goes to it whole.
   */
  #batch(messages: unknown[], data: RawData, forward: Forward): void {
    const max = this.server.maxBatchSize;
    if (max !== undefined && messages.length > max) {
      forward(data, false);
      return;
    }
    const ours: ParsedMessage[] = [];
    const rest: unknown[] = [];
    /** Ids subscribed to `session.events` earlier in the batch: their stops are ours too. */
    const subscribed = new Set<unknown>();
    for (const raw of messages) {
      const parsed = parse(raw, this.server);
      if (parsed === undefined) {
        forward(data, false);
        return;
      }
      if (this.#ours(raw) || (parsed.method === 'subscription.stop' && subscribed.has(parsed.id))) {
        ours.push(parsed);
        if (parsed.method === 'subscription') subscribed.add(parsed.id);
      } else rest.push(raw);
    }
    if (ours.length === 0) {
      forward(data, false);
      return;
    }
    for (const message of ours) this.#serve(message);
    if (rest.length > 0) forward(Buffer.from(JSON.stringify(rest)), false);
  }

  /** A subscription to `session.events`, or a stop of one of ours. */
  #ours(raw: unknown): boolean {
    if (typeof raw !== 'object' || raw === null) return false;
    const { id, method, params } = raw as { id?: unknown; method?: unknown; params?: unknown };
    if (id === null || id === undefined) return false;
    if (method === 'subscription.stop') {
      return this.find(id as RequestId) !== undefined;
    }
    return (
      method === 'subscription' &&
      typeof params === 'object' &&
      params !== null &&
      (params as { path?: unknown }).path === PATH
    );
  }

  #serve(message: ParsedMessage): void {
    const id = message.id as RequestId;
    if (message.method === 'subscription.stop') {
      this.find(id)?.stop();
      return;
    }
    const { input: rawInput, lastEventId } = message.params;
    let input = rawInput;
    // As tRPC does: the client's last event id goes into the input.
    if (lastEventId !== undefined) {
      if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
        input = { ...input, lastEventId };
      } else input ??= { lastEventId };
    }
    const subscription = new EventSubscription(this, id, message.jsonrpc, input);
    if (this.find(id) !== undefined) {
      subscription.fail(new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${id}` }));
      return;
    }
    this.#add(subscription);
    subscription.admit().catch((cause: unknown) => this.unexpected(cause));
  }

  /** Reports an error of this module's own (a bug): never thrown at the socket. */
  unexpected(cause: unknown): void {
    this.server.report({
      error: getTRPCErrorFromUnknown(cause),
      type: 'subscription',
      path: PATH,
      input: undefined,
      ctx: this.ctx,
      req: this.req,
    });
  }

  /** The subscription of this socket with request id `id`. */
  find(id: RequestId): EventSubscription | undefined {
    const held = this.#subscriptions;
    if (held instanceof Map) return held.get(id);
    return held?.id === id ? held : undefined;
  }

  /** Removes an ended subscription (when it is still the one with its id). */
  forget(subscription: EventSubscription): void {
    const held = this.#subscriptions;
    if (held === subscription) this.#subscriptions = undefined;
    else if (held instanceof Map && held.get(subscription.id) === subscription) {
      held.delete(subscription.id);
      if (held.size === 0) this.#subscriptions = undefined;
    }
  }

  #add(subscription: EventSubscription): void {
    const held = this.#subscriptions;
    if (held === undefined) this.#subscriptions = subscription;
    else if (held instanceof Map) held.set(subscription.id, subscription);
    else
      this.#subscriptions = new Map([
        [held.id, held],
        [subscription.id, subscription],
      ]);
  }

  /** The socket closed: its subscriptions end. */
  closed(): void {
    const held = this.#subscriptions;
    if (held === undefined) return;
    for (const subscription of held instanceof Map ? [...held.values()] : [held]) {
      subscription.stop();
    }
  }

  /** Sends a response in tRPC's format, unless the socket is closing. */
  respond(response: object): void {
    if (this.ws.readyState !== OPEN) return;
    let text: string;
    try {
      text = JSON.stringify(transformTRPCResponse(this.server.config, response as never));
    } catch (cause) {
      // A transformer that cannot serialise: reported, and tRPC's fallback error instead.
      this.unexpected(cause);
      const { id, jsonrpc } = response as { id?: unknown; jsonrpc?: unknown };
      text = JSON.stringify({ id, jsonrpc, error: fallbackErrorShape });
    }
    this.ws.send(text);
  }

  /** tRPC's error shape for `error` (its fallback when the formatter throws). */
  errorShape(error: TRPCError, input: unknown): unknown {
    try {
      return getTRPCErrorShape({
        config: this.server.config,
        error,
        type: 'subscription',
        path: PATH,
        input,
        ctx: this.ctx,
      });
    } catch (cause) {
      this.server.report({
        error: getTRPCErrorFromUnknown(cause),
        type: 'subscription',
        path: PATH,
        input,
        ctx: this.ctx,
        req: this.req,
      });
      return fallbackErrorShape;
    }
  }
}

/** True when `ws` has the `EventEmitter` methods the swap needs (else tRPC serves it as it is). */
function isEmitter(ws: EventSocket): boolean {
  const methods = ws as unknown as Record<string, unknown>;
  return ['on', 'once', 'off', 'listeners'].every((name) => typeof methods[name] === 'function');
}

/** The one listener in `after` that is not in `before`, if exactly one was added. */
function added(after: unknown[], before: unknown[]): Listener | undefined {
  const fresh = after.filter((listener) => !before.includes(listener));
  return fresh.length === 1 && typeof fresh[0] === 'function' ? (fresh[0] as Listener) : undefined;
}

/** A message tRPC would accept, or undefined (tRPC then answers it). */
function parse(raw: unknown, server: SessionEventsServer): ParsedMessage | undefined {
  try {
    return parseTRPCMessage(raw, server.config.transformer);
  } catch {
    return undefined;
  }
}

/**
 * `admitting` (running the procedure), `stopping` (stopped meanwhile),
 * `replaying` (reading what was missed), `dropping` (its stream was dropped
 * meanwhile), `live`, `ended`.
 */
type Phase = 'admitting' | 'stopping' | 'replaying' | 'dropping' | 'live' | 'ended';

/**
 * One `session.events` subscription: admitted by tRPC's procedure, then
 * subscribed to the session's event log. The replay after `lastEventId` is
 * read after subscribing, live events that come meanwhile are held and
 * follow it, each event once, in id order; then each event is sent as it
 * is appended (a client that does not read is closed by the socket's
 * `maxBufferedBytes`). It ends when the client stops it, the socket closes,
 * or the session's stream is dropped: after a last `session.rotated` event
 * when the session was rotated, else with `SESSION_NOT_FOUND`.
 */
class EventSubscription {
  readonly #socket: SocketEvents;
  readonly id: RequestId;
  readonly #jsonrpc: '2.0' | undefined;
  readonly #input: unknown;
  #phase: Phase = 'admitting';
  /** The session subscribed to, once admitted. */
  #sessionId: string | undefined;
  /** Gives back the socket's subscription slot; called once, when it ends. */
  #onEnd: (() => void) | undefined;
  #lastId: string | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Live events that came while the replay was read. */
  #held: SessionEvent[] | undefined;
  /** Newest held event dropped because too many were held. */
  #overflowThroughId: string | undefined;

  constructor(socket: SocketEvents, id: RequestId, jsonrpc: '2.0' | undefined, input: unknown) {
    this.#socket = socket;
    this.id = id;
    this.#jsonrpc = jsonrpc;
    this.#input = input;
  }

  /** Runs the procedure (admission), then starts; answers as tRPC's ws adapter does. */
  async admit(): Promise<void> {
    const socket = this.#socket;
    let request: SessionEventsRequest | undefined;
    try {
      socket.ctx = await socket.context;
      if (this.#phase === 'stopping' || socket.ws.readyState !== OPEN) {
        this.#end();
        return;
      }
      request = sessionEventsRequestOf(await socket.server.admit(socket.ctx, this.#input));
      if (request === undefined) {
        throw new TRPCError({
          code: 'INTERNAL_SERVER_ERROR',
          message: `Subscription ${PATH} did not return its events`,
        });
      }
    } catch (cause) {
      // An error, and no `stopped` after it.
      this.#phase = 'ended';
      this.#forget();
      this.fail(cause);
      return;
    }
    this.#sessionId = request.sessionId;
    this.#onEnd = request.onEnd;
    if ((this.#phase as Phase) === 'stopping' || socket.ws.readyState !== OPEN) {
      this.#end();
      return;
    }
    this.#respond({ type: 'started' });
    this.#start(request);
  }

  /** Stopped by the client, or its socket closed. */
  stop(): void {
    // While admitted, the id stays taken; the admission then answers `stopped`.
    if (this.#phase === 'admitting') this.#phase = 'stopping';
    else if (this.#phase !== 'stopping') this.#end();
  }

  /** Answers with tRPC's error shape, as tRPC does for a failed subscription. */
  fail(cause: unknown): void {
    const error = getTRPCErrorFromUnknown(cause);
    const socket = this.#socket;
    socket.server.report({
      error,
      type: 'subscription',
      path: PATH,
      input: this.#input,
      ctx: socket.ctx,
      req: socket.req,
    });
    socket.respond({
      id: this.id,
      jsonrpc: this.#jsonrpc,
      error: socket.errorShape(error, this.#input),
    });
  }

  /** Subscribes first, then reads the replay, so nothing falls between the two. */
  #start(request: SessionEventsRequest): void {
    const { events, sessionId, lastEventId } = request;
    this.#phase = 'replaying';
    this.#lastId = lastEventId ?? undefined;
    this.#held = [];
    let replay: ReturnType<EventLog['readAfter']>;
    try {
      this.#unsubscribe = events.subscribe(
        sessionId,
        (event) => this.#onEvent(event),
        () => this.#onDrop(),
      );
      replay = events.readAfter(sessionId, this.#lastId);
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
        this.fail(cause);
        this.#end();
      },
    );
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
    const sessionId = this.#sessionId as string;
    this.#release();
    const newSessionId = this.#socket.server.rotatedTo(sessionId);
    if (newSessionId === undefined) this.fail(toTRPCError(new SessionNotFoundError(sessionId)));
    else this.#respondEvent(ROTATED_EVENT_ID, rotatedEvent(newSessionId));
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

  /** A `tracked()` event, as tRPC's ws adapter sends it. */
  #respondEvent(id: string, event: SessionEvent): void {
    this.#respond({ type: 'data', data: { id, data: event }, id });
  }

  #respond(result: object): void {
    this.#socket.respond({ id: this.id, jsonrpc: this.#jsonrpc, result });
  }

  /** Releases everything and answers `stopped`, once. */
  #end(): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#held = undefined;
    this.#release();
    this.#forget();
    this.#respond({ type: 'stopped' });
  }

  #release(): void {
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
  }

  #forget(): void {
    this.#socket.forget(this);
  }
}
