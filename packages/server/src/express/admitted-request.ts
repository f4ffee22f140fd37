import type { Response } from 'express';
import type { CapacityLimiter } from '../capacity.js';
import type { MorganError } from '../errors.js';
import type { TrackedRequest } from '../manager.js';
import type { Session } from '../session.js';
import type { StreamBudget } from '../streams.js';
import type { MorganRequestState } from './request.js';
import { sendMorganError } from './respond.js';
import type { InFlightRequest, RotationNotices } from './rotations.js';

/** What every admitted request of one `sessionMiddleware` shares. */
export interface Admission {
  readonly limiter: CapacityLimiter;
  readonly streams: StreamBudget;
  readonly rotations: RotationNotices;
  /** Answers a stream the node has no room for. */
  readonly shedError: MorganError;
  /** Answers a stream its session has no room for. */
  readonly tooManyStreams: MorganError;
}

/**
 * One admitted request, from its capacity slot (or its place in the stream
 * budget) to its release: it is also the request's `req.morgan`. One object
 * per request and one `'close'` listener, not a set of closures: this runs
 * for every request the node serves.
 *
 * 'close' follows 'finish' on every response and also fires when the client
 * goes away first, so one listener covers both ends of a request; the slot
 * and the tracked request are released exactly once.
 */
export class AdmittedRequest implements MorganRequestState, InFlightRequest {
  /** Neighbours in the middleware's list of tracked requests (`RotationNotices`). @internal */
  previousInFlight: AdmittedRequest | undefined = undefined;
  /** @internal */
  nextInFlight: AdmittedRequest | undefined = undefined;
  readonly #admission: Admission;
  readonly #res: Response;
  readonly #startedAt: number;
  #stream: boolean;
  #tracked: TrackedRequest | undefined = undefined;
  #done = false;
  /** The session whose stream budget this stream holds a place of; null when none. */
  #streamOf: string | undefined | null = null;

  constructor(admission: Admission, res: Response, asStream: boolean) {
    this.#admission = admission;
    this.#res = res;
    this.#stream = asStream;
    // Only the adaptive limit reads latencies: a static one needs no clock.
    const { limiter } = admission;
    this.#startedAt = limiter.adaptive === undefined ? 0 : limiter.now();
    // A closure, not a property on `res`. Express 5 gives every request and
    // response a prototype of its own (`Object.setPrototypeOf` in
    // `app.handle`), after which V8 makes a new hidden class for each
    // property added to that object: about 2 µs and a copy of its
    // descriptors per property, against a few dozen ns for a closure.
    res.on('close', () => this.release());
  }

  /** The request's session, a snapshot built when first read; undefined until tracked. */
  get session(): Session | undefined {
    return this.#tracked?.session;
  }

  /** Id of the tracked request; undefined until tracked. */
  get requestId(): string | undefined {
    return this.#tracked?.requestId;
  }

  get sessionId(): string | undefined {
    return this.#tracked?.sessionId;
  }

  get response(): Response {
    return this.#res;
  }

  /** True once released (the response closed). */
  get done(): boolean {
    return this.#done;
  }

  /** The request is tracked on its session: `req.morgan.session` from now on. */
  track(request: TrackedRequest): void {
    this.#tracked = request;
    this.#admission.rotations.add(this);
  }

  /** Takes the stream's place in the budget; false (and answered) when it is refused. */
  openStream(sessionId: string | undefined): boolean {
    const { streams, shedError, tooManyStreams } = this.#admission;
    const refusal = streams.tryOpen(sessionId);
    if (refusal === undefined) {
      this.#streamOf = sessionId;
      // Proxies that buffer responses (nginx by default) must pass events on at once.
      this.#res.setHeader('X-Accel-Buffering', 'no');
      return true;
    }
    // Answered here even under deferErrorPaths: an SSE client (EventSource,
    // tRPC's httpSubscriptionLink) reads a refused stream by its status.
    sendMorganError(this.#res, refusal === 'node' ? shedError : tooManyStreams);
    return false;
  }

  /** A request that turned out to be a stream leaves its slot for the stream budget. */
  toStream(): void {
    if (this.#stream || this.#done) return;
    this.#stream = true;
    const { limiter, streams } = this.#admission;
    limiter.release();
    const sessionId = this.#tracked?.sessionId;
    if (streams.tryOpen(sessionId) === undefined) this.#streamOf = sessionId;
    else this.#res.destroy();
  }

  /** Gives back the slot (or stream place) and ends the tracked request; once. */
  release(): void {
    if (this.#done) return;
    this.#done = true;
    const { limiter, streams, rotations } = this.#admission;
    // A finished response is a latency sample for adaptive capacity; a
    // client that went away is not. A static limit takes no sample, so
    // `writableFinished` is not read for it.
    if (!this.#stream) {
      if (limiter.adaptive === undefined) limiter.release();
      else limiter.release(this.#res.writableFinished ? this.#startedAt : undefined);
    } else if (this.#streamOf !== null) streams.close(this.#streamOf);
    const tracked = this.#tracked;
    if (tracked !== undefined) {
      rotations.remove(this);
      void tracked.end();
    }
  }
}
