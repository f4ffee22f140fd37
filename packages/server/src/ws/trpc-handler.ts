import { callTRPCProcedure, getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import { parseTRPCMessage } from '@trpc/server/rpc';
import { callIdempotencyKey } from '../trpc/idempotency.js';
import {
  type Answer,
  type Answered,
  type ErrorSite,
  encodeAnswer,
  errorShape,
  fallbackAnswer,
  PROTOCOL,
} from './answers.js';
import type { CallRunner } from './calls.js';
import type { Connection, Served } from './connection.js';
import { SESSION_EVENTS_PATH } from './event-subscriptions.js';
import { SocketState } from './socket.js';
import { isSubscriptionSource, StreamSubscription } from './stream-subscription.js';
import {
  type AdmittedSubscription,
  allHeld,
  type Call,
  findHeld,
  type HeldSubscriptions,
  isAbortError,
  PendingSubscription,
  type Subscription,
  type SubscriptionOwner,
  type SubscriptionResult,
  withHeld,
  withoutHeld,
} from './subscription.js';

/** A message of tRPC's WebSocket protocol, as `parseTRPCMessage` returns it. */
type Message = ReturnType<typeof parseTRPCMessage>;

/** What the app context resolves to when the app's `createContext` failed (reported once). */
const NO_CONTEXT = Symbol('morgan.noContext');

/**
 * Serves tRPC's WebSocket protocol (what `@trpc/client`'s `wsLink` speaks)
 * on one connection, a tab's own socket or a channel of a shared one, with
 * tRPC's public primitives only: `parseTRPCMessage` for each call,
 * `callTRPCProcedure` to run it, `getTRPCErrorShape` and
 * `transformTRPCResponse` for the answers (`answers.ts`). Queries and
 * mutations answer `{ id, result: { type: 'data', data } }`; subscriptions
 * `started`, their data (with the `tracked()` id) and `stopped`; batches
 * (arrays, at most `maxBatchSize`) run each call; `PING` answers `PONG`.
 * A connection holds this object, its subscriptions by id, and, only when
 * the app has a `createContext`, its context.
 */
export class TrpcHandler implements Served, SubscriptionOwner {
  readonly #connection: Connection;
  readonly #runner: CallRunner;
  #subscriptions: HeldSubscriptions;
  /** The app's context, made once (only when the app has a `createContext`). */
  readonly #appContext: Promise<unknown> | undefined;
  /** The app's context once made, for the error formatter and `onError`. */
  #madeContext: unknown;

  constructor(connection: Connection, runner: CallRunner) {
    this.#connection = connection;
    this.#runner = runner;
    if (runner.hasAppContext) {
      this.#appContext = runner.appContext(connection).then(
        (ctx) => {
          this.#madeContext = ctx;
          return ctx;
        },
        () => NO_CONTEXT,
      );
    }
  }

  get open(): boolean {
    return this.#connection.ws.readyState === SocketState.OPEN;
  }

  // Served

  received(text: string | null): void {
    if (text === 'PING' || text === 'PONG') {
      if (text === 'PING') this.#send('PONG');
      return;
    }
    const parsed = this.#parse(text);
    if (parsed === undefined) return;
    const [messages, raw] = parsed;
    for (const [index, message] of messages.entries()) this.#handle(message, index, raw[index]);
  }

  closed(): void {
    for (const subscription of allHeld(this.#subscriptions)) subscription.stop();
  }

  // SubscriptionOwner

  result(call: Call, result: SubscriptionResult): void {
    if (!this.open) return;
    const answer = { id: call.id, jsonrpc: call.jsonrpc, result };
    this.#connection.send(encodeAnswer(this.#runner.router, answer));
  }

  fail(call: Answered, cause: unknown, ctx: unknown = this.#errorContext()): void {
    const error = getTRPCErrorFromUnknown(cause);
    this.#report(error, call, ctx);
    const shape = errorShape(this.#runner.router, error, call, ctx, (failure) =>
      this.#report(getTRPCErrorFromUnknown(failure), call, ctx),
    );
    this.#respond({ id: call.id, jsonrpc: call.jsonrpc, error: shape }, call);
  }

  report(call: Call, cause: unknown): void {
    this.#report(getTRPCErrorFromUnknown(cause), call);
  }

  ended(subscription: Subscription, call: Call): void {
    this.#subscriptions = withoutHeld(this.#subscriptions, subscription);
    this.#respond({ id: call.id, jsonrpc: call.jsonrpc, result: { type: 'stopped' } }, call);
  }

  rotatedTo(sessionId: string): string | undefined {
    return this.#runner.events?.rotatedTo(sessionId);
  }

  // Messages

  /**
   * The calls of a message, with each one's raw JSON (for its idempotency
   * key); undefined when it was refused whole: not JSON text, a batch over
   * `maxBatchSize`, or any call tRPC's parser refuses.
   */
  #parse(text: string | null): [Message[], unknown[]] | undefined {
    try {
      if (text === null) throw new Error('A binary message: tRPC messages are JSON text');
      const json: unknown = JSON.parse(text);
      const raw = Array.isArray(json) ? json : [json];
      if (raw.length > this.#runner.maxBatchSize) {
        this.#send(this.#runner.batchRefusal);
        return undefined;
      }
      const { transformer } = this.#runner.router._def._config;
      return [raw.map((call) => parseTRPCMessage(call, transformer)), raw];
    } catch (cause) {
      // As tRPC: answered with id null, not reported to onError.
      const error = new TRPCError({ code: 'PARSE_ERROR', cause });
      const ctx = this.#errorContext();
      const shape = errorShape(this.#runner.router, error, PROTOCOL, ctx, (failure) =>
        this.#report(getTRPCErrorFromUnknown(failure), PROTOCOL, ctx),
      );
      this.#respond({ id: null, error: shape }, PROTOCOL);
      return undefined;
    }
  }

  #handle(message: Message, batchIndex: number, raw: unknown): void {
    const { id, jsonrpc } = message;
    if (id === null) {
      const error = new TRPCError({ code: 'PARSE_ERROR', message: '`id` is required' });
      this.fail({ id, jsonrpc, ...PROTOCOL }, error);
      return;
    }
    if (message.method === 'subscription.stop') {
      findHeld(this.#subscriptions, id)?.stop();
      return;
    }
    const { path, lastEventId } = message.params;
    let { input } = message.params;
    // As tRPC does: the client's last event id goes into the input.
    if (lastEventId !== undefined) {
      input = isRecord(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    const call: Call = { id, jsonrpc, type: message.method, path, input };
    if (call.type !== 'subscription') {
      void this.#call(call, batchIndex, idempotencyKeyOf(raw));
    } else if (findHeld(this.#subscriptions, id) !== undefined) {
      this.fail(call, new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${id}` }));
    } else void this.#subscribe(call, batchIndex);
  }

  /** A query or mutation (a mutation with its idempotency key, for Morgan's middleware). */
  async #call(call: Call, batchIndex: number, idempotencyKey: unknown): Promise<void> {
    const ctx = await this.#context();
    if (ctx === NO_CONTEXT) return;
    try {
      const run = () => this.#procedure(call, ctx, batchIndex, new AbortController().signal);
      const data: unknown = await (call.type === 'mutation'
        ? callIdempotencyKey.run(idempotencyKey, run)
        : run());
      if (isSubscriptionSource(data)) {
        throw new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `Cannot return an async iterable or observable from a ${call.type} procedure with WebSockets`,
        });
      }
      this.result(call, { type: 'data', data });
    } catch (cause) {
      this.fail(call, cause, ctx);
    }
  }

  /**
   * A subscription: its id is taken while the procedure admits it (a stop
   * meanwhile answers `stopped` once it has), then `session.events` is
   * served leanly and anything else iterated.
   */
  async #subscribe(call: Call, batchIndex: number): Promise<void> {
    const pending = new PendingSubscription(call.id);
    this.#subscriptions = withHeld(this.#subscriptions, pending);
    const ctx = await this.#context();
    if (ctx === NO_CONTEXT || pending.stopped || !this.open) {
      this.ended(pending, call);
      return;
    }
    let source: unknown;
    try {
      source = await this.#procedure(call, ctx, batchIndex, pending.controller.signal);
    } catch (cause) {
      if (pending.stopped && isAbortError(cause)) this.ended(pending, call);
      else {
        this.#subscriptions = withoutHeld(this.#subscriptions, pending);
        this.fail(call, cause, ctx);
      }
      return;
    }
    const subscription = this.#admitted(call, source, pending.controller);
    this.#subscriptions = withoutHeld(this.#subscriptions, pending);
    if (subscription === undefined) return;
    this.#subscriptions = withHeld(this.#subscriptions, subscription);
    if (pending.stopped || !this.open) subscription.stop();
    else subscription.start();
  }

  /** What serves an admitted subscription's result; undefined (and answered) when nothing can. */
  #admitted(
    call: Call,
    source: unknown,
    controller: AbortController,
  ): AdmittedSubscription | undefined {
    const { events } = this.#runner;
    const lean = call.path === SESSION_EVENTS_PATH ? events?.serve(this, call, source) : undefined;
    if (lean !== undefined) return lean;
    if (isSubscriptionSource(source)) return new StreamSubscription(this, call, controller, source);
    this.fail(
      call,
      new TRPCError({
        code: 'INTERNAL_SERVER_ERROR',
        message: `Subscription ${call.path} did not return an observable or a AsyncGenerator`,
      }),
    );
    return undefined;
  }

  #procedure(call: Call, ctx: unknown, batchIndex: number, signal: AbortSignal): Promise<unknown> {
    return callTRPCProcedure({
      router: this.#runner.router,
      path: call.path,
      getRawInput: async () => call.input,
      ctx,
      type: call.type,
      signal,
      batchIndex,
    });
  }

  /** The context of a call: the app's, made once, or Morgan's, made for it. */
  #context(): Promise<unknown> | unknown {
    return this.#appContext ?? this.#runner.context(this.#connection);
  }

  /** The context errors are formatted and reported with, when the call's own is not at hand. */
  #errorContext(): unknown {
    return this.#appContext === undefined
      ? this.#runner.context(this.#connection)
      : this.#madeContext;
  }

  // Answers

  #send(text: string): void {
    if (this.open) this.#connection.send(text);
  }

  /** Sends an answer; one the transformer cannot serialise becomes tRPC's fallback error. */
  #respond(answer: Answer, site: ErrorSite): void {
    if (!this.open) return;
    let text: string;
    try {
      text = encodeAnswer(this.#runner.router, answer);
    } catch (cause) {
      this.#report(getTRPCErrorFromUnknown(cause), site);
      text = fallbackAnswer(answer);
    }
    this.#connection.send(text);
  }

  #report(error: TRPCError, site: ErrorSite, ctx: unknown = this.#errorContext()): void {
    const { type, path, input } = site;
    this.#runner.report({ error, type, path, input, ctx, req: this.#connection.req });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `params.idempotencyKey` of a call, which tRPC's parser leaves out. */
function idempotencyKeyOf(raw: unknown): unknown {
  const params = isRecord(raw) ? raw.params : undefined;
  return isRecord(params) ? params.idempotencyKey : undefined;
}
