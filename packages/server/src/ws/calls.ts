import type { IncomingMessage } from 'node:http';
import { type AnyTRPCRouter as AnyRouter, getTRPCErrorFromUnknown } from '@trpc/server';
import { procedureClass } from '../capacity/request-class.js';
import {
  CapacityError,
  ErrorCode,
  errorCodeInfo,
  MorganError,
  RateLimitedError,
  toMorganError,
} from '../errors.js';
import type { SessionManager } from '../manager.js';
import type { MorganContext } from '../trpc/context.js';
import { batchTooLargeMessage, errorEnvelope } from '../trpc/error-envelope.js';
import type { Connection } from './connection.js';
import { SessionEventsServer } from './event-subscriptions.js';
import type { AttachWebSocketOptions, WebSocketErrorInfo } from './options.js';
import type { PendingWork } from './pending-work.js';

/** What `CallRunner` is made with. */
export interface CallRunnerOptions {
  manager: SessionManager;
  router: AnyRouter;
  maxBatchSize: number;
  createContext: AttachWebSocketOptions<AnyRouter>['createContext'];
  onError: AttachWebSocketOptions<AnyRouter>['onError'];
  clientAddress: (req: IncomingMessage) => string | undefined;
  work: PendingWork;
}

/**
 * Runs the calls of every socket: the one context builder (Morgan's fields,
 * over the app's own when it has a `createContext`), the accounting of each
 * call (node capacity, request tracking on the session, the shutdown drain),
 * the subscription slots of a socket, and `onError`. Every connection's
 * tRPC handler (`TrpcHandler`) shares it.
 */
export class CallRunner {
  readonly manager: SessionManager;
  readonly router: AnyRouter;
  readonly maxBatchSize: number;
  /** The answer to a batch over `maxBatchSize`, none of it run: tRPC's error envelope, 400 `INVALID_REQUEST`. */
  readonly batchRefusal: string;
  /** Serves Morgan's `session.events` leanly; undefined when the router has not got it. */
  readonly events: SessionEventsServer | undefined;
  /** Set once the layer closes: calls from then on answer `SHUTTING_DOWN`. */
  closing = false;
  readonly #createContext: CallRunnerOptions['createContext'];
  readonly #onError: CallRunnerOptions['onError'];
  readonly #clientAddress: CallRunnerOptions['clientAddress'];
  readonly #work: PendingWork;
  #inFlight = 0;

  constructor(options: CallRunnerOptions) {
    const { manager, router, maxBatchSize } = options;
    this.manager = manager;
    this.router = router;
    this.maxBatchSize = maxBatchSize;
    this.#createContext = options.createContext;
    this.#onError = options.onError;
    this.#clientAddress = options.clientAddress;
    this.#work = options.work;
    const refused = new MorganError(ErrorCode.INVALID_REQUEST, batchTooLargeMessage(maxBatchSize));
    this.batchRefusal = JSON.stringify({ id: null, ...errorEnvelope(router, refused, 'unknown') });
    this.events = SessionEventsServer.for(router, { manager });
  }

  /** Calls running now, on every socket. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** True when the app passed its own `createContext`, made once per socket (`appContext`). */
  get hasAppContext(): boolean {
    return this.#createContext !== undefined;
  }

  /**
   * Morgan's context for a call on `connection`: `session` read live (so it
   * follows a rotation), each call run through {@link run}. Cheap, so made
   * per call: an idle socket keeps no context.
   */
  context(connection: Connection): MorganContext {
    const clientAddress = this.#clientAddress;
    return {
      manager: this.manager,
      get session() {
        return connection.session;
      },
      transport: 'ws',
      get clientAddress() {
        return clientAddress(connection.req);
      },
      runCall: (call, path) => this.run(connection, call, path),
      openSubscription: () => {
        const release = connection.openSubscription();
        if (release === undefined) {
          throw new RateLimitedError('This socket has too many subscriptions');
        }
        return release;
      },
    };
  }

  /**
   * The app's context (its `createContext` with the upgrade request and the
   * socket's `connectionParams`) with Morgan's fields over it, made once per
   * socket when it is served. A throw closes the socket with the close code
   * of the error's stable code (1011 for anything not a `MorganError`).
   */
  async appContext(connection: Connection): Promise<MorganContext> {
    const morgan = this.context(connection);
    const { req, connectionParams } = connection;
    try {
      const app = await this.#createContext?.({ req, connectionParams });
      // Morgan's fields win, its getters kept (`session` follows a rotation).
      return Object.defineProperties(
        { ...app, ...morgan },
        Object.getOwnPropertyDescriptors(morgan),
      );
    } catch (error) {
      const { code } = toMorganError(error);
      connection.end(errorCodeInfo[code].wsCloseCode, code);
      this.report({
        error: getTRPCErrorFromUnknown(error),
        type: 'unknown',
        path: undefined,
        input: undefined,
        ctx: undefined,
        req,
      });
      throw error;
    }
  }

  /**
   * One call over a socket: admitted by node capacity (`session.*` calls as
   * session control), tracked on the session, drained on close.
   */
  async run<T>(connection: Connection, call: () => Promise<T>, path: string): Promise<T> {
    const { sessionId } = connection;
    if (this.closing) throw new MorganError(ErrorCode.SHUTTING_DOWN);
    if (sessionId === undefined) {
      throw new MorganError(ErrorCode.SESSION_REQUIRED, 'Socket has no session');
    }
    const capacity = this.manager.capacity;
    if (!(await capacity.acquire(procedureClass(path)))) throw new CapacityError(1);
    const startedAt = capacity.now();
    connection.callStarted();
    this.#inFlight += 1;
    try {
      return await this.manager.trackRequest(sessionId, call);
    } finally {
      capacity.release(startedAt);
      this.#inFlight -= 1;
      // A deferred close waits for this answer, which is sent before the next macrotask.
      if (connection.callEnded()) this.#work.later(0, () => connection.flushEnd());
      if (this.#inFlight === 0) this.#work.notify();
    }
  }

  /** tRPC's `onError`; one that throws or rejects is ignored, as tRPC's adapter does. */
  report(info: WebSocketErrorInfo): void {
    if (this.#onError === undefined) return;
    try {
      const result: unknown = this.#onError(info);
      if (result instanceof Promise) result.catch(() => undefined);
    } catch {
      // An onError that fails must not stop the answers.
    }
  }
}
