import { randomBytes } from 'node:crypto';
import { SessionNotFoundError } from '../errors.js';
import { type Session, type SessionRecord, toSession } from '../session.js';
import type { Store } from '../store/store.js';
import type { SessionAdmission } from './admission.js';
import type { SessionAnnouncer } from './announcer.js';

/** A request tracked with `await using`; disposing it ends the request. */
export interface TrackedRequest extends AsyncDisposable {
  readonly requestId: string;
  /** The tracked session's id (reading it builds no snapshot). */
  readonly sessionId: string;
  /**
   * The session, as a snapshot built when first read (the record the store
   * answered, with this request among its `activeRequests`). A request that
   * never reads it pays for no `Date`, metadata parse or array copy.
   */
  readonly session: Session;
  /** Ends the request; safe to call more than once. */
  end(): Promise<void>;
}

/** The manager's side of ending a tracked request: the one `RequestTracker`. */
interface RequestEnds {
  store(): Store;
  now(): number;
  ended(): void;
  failed(error: unknown): void;
}

/** What a `RequestTracker` needs. */
export interface RequestTrackerParts {
  readonly store: Store;
  /** Refuses requests past `requestRateLimit`. */
  readonly admission: SessionAdmission;
  /** Reports a store failure while ending a request. */
  readonly announcer: SessionAnnouncer;
  readonly now: () => number;
}

/**
 * The requests in flight on this node's sessions: each gets an id and a
 * place in its session's `activeRequests` (so the session cannot expire
 * while it runs); `drain` waits until none is left. Runs for every request
 * the node serves: no closure or object per request but the `Tracked`.
 */
export class RequestTracker implements RequestEnds {
  readonly #store: Store;
  readonly #admission: SessionAdmission;
  readonly #announcer: SessionAnnouncer;
  readonly #now: () => number;
  readonly #prefix = randomBytes(4).toString('hex');
  #seq = 0;
  #active = 0;
  readonly #drainWaiters = new Set<() => void>();

  constructor(parts: RequestTrackerParts) {
    this.#store = parts.store;
    this.#admission = parts.admission;
    this.#announcer = parts.announcer;
    this.#now = parts.now;
  }

  /** Requests tracked on this node now. */
  get active(): number {
    return this.#active;
  }

  /** Runs `fn` as a request of the session; without `fn`, returns the request. */
  async track<T>(
    sessionId: string,
    fn?: (request: TrackedRequest) => T | Promise<T>,
  ): Promise<T | TrackedRequest> {
    const request = await this.begin(sessionId);
    if (fn === undefined) return request;
    try {
      return await fn(request);
    } finally {
      await request.end();
    }
  }

  /** Starts tracking a request; the caller must `end()` it. */
  async begin(sessionId: string): Promise<TrackedRequest> {
    this.#admission.checkRequestRefusal(sessionId);
    const requestId = this.#nextRequestId();
    let record: SessionRecord | undefined;
    try {
      record = await this.#store.addRequest(sessionId, requestId, this.#now());
    } catch (error) {
      this.ended();
      throw error;
    }
    return this.#tracked(sessionId, requestId, record, false);
  }

  /** `begin` without a promise; undefined when the store cannot track synchronously. */
  beginSync(sessionId: string): TrackedRequest | undefined {
    const store = this.#store;
    if (store.addRequestSync === undefined) return undefined;
    this.#admission.checkRequestRefusal(sessionId);
    const requestId = this.#nextRequestId();
    let record: SessionRecord | undefined;
    try {
      record = store.addRequestSync(sessionId, requestId, this.#now());
    } catch (error) {
      this.ended();
      throw error;
    }
    return this.#tracked(sessionId, requestId, record, store.removeRequestSync !== undefined);
  }

  /** Resolves when no request is in flight, or after `timeoutMs`; true when drained. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (drained: boolean) => {
        clearTimeout(timer);
        this.#drainWaiters.delete(onIdle);
        resolve(drained);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.#drainWaiters.add(onIdle);
    });
  }

  /** The store requests are tracked in. */
  store(): Store {
    return this.#store;
  }

  now(): number {
    return this.#now();
  }

  /** A request ended (or never started): one fewer in flight. */
  ended(): void {
    this.#active -= 1;
    if (this.#active === 0) for (const waiter of [...this.#drainWaiters]) waiter();
  }

  /** The store failed to end a request. */
  failed(error: unknown): void {
    this.#announcer.failed(error);
  }

  #nextRequestId(): string {
    this.#seq += 1;
    this.#active += 1;
    return `${this.#prefix}-${this.#seq.toString(36)}`;
  }

  #tracked(
    sessionId: string,
    requestId: string,
    record: SessionRecord | undefined,
    syncEnd: boolean,
  ): TrackedRequest {
    if (record === undefined) {
      this.ended();
      throw new SessionNotFoundError(sessionId);
    }
    const request = new Tracked(this, sessionId, requestId, record, syncEnd);
    const over = this.#admission.overRequestLimit(sessionId, record);
    if (over !== undefined) {
      void request.end();
      throw over;
    }
    return request;
  }
}

const DONE: Promise<void> = Promise.resolve();

/**
 * A request in flight on its session: one object per request, its `end`
 * a method (this runs for every HTTP request, so no closures).
 */
class Tracked implements TrackedRequest {
  readonly requestId: string;
  readonly sessionId: string;
  readonly #ends: RequestEnds;
  readonly #syncEnd: boolean;
  /** What the store answered; made into a `Session` only when read. */
  #record: SessionRecord | undefined;
  #session: Session | undefined = undefined;
  #ending: Promise<void> | undefined;

  constructor(
    ends: RequestEnds,
    sessionId: string,
    requestId: string,
    record: SessionRecord,
    syncEnd: boolean,
  ) {
    this.#ends = ends;
    this.sessionId = sessionId;
    this.requestId = requestId;
    this.#record = record;
    this.#syncEnd = syncEnd;
  }

  get session(): Session {
    if (this.#session === undefined) {
      this.#session = toSession(this.#record as SessionRecord);
      this.#record = undefined;
    }
    return this.#session;
  }

  end(): Promise<void> {
    if (this.#ending !== undefined) return this.#ending;
    const ends = this.#ends;
    const store = ends.store();
    if (this.#syncEnd) {
      this.#ending = DONE;
      try {
        store.removeRequestSync?.(this.sessionId, this.requestId, ends.now());
      } catch (error) {
        ends.failed(error);
      }
      ends.ended();
      return DONE;
    }
    // One promise per end: this runs once for every HTTP request.
    this.#ending = store.removeRequest(this.sessionId, this.requestId, ends.now()).then(
      () => ends.ended(),
      (error: unknown) => {
        ends.ended();
        ends.failed(error);
      },
    );
    return this.#ending;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.end();
  }
}
