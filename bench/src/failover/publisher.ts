// P8's event source: the demo's own public route. `POST /api/chat`
// `{ message }` with the session's `X-Session-Id` answers and publishes the
// reply as a `chat.reply` event of that session (session.events), whichever
// node serves it. The publisher sends `p8 <seq>` to the sessions in turn at a
// steady rate through nginx, and remembers which seqs were acknowledged
// (answered 200): those must reach their client exactly once.
import { SESSION_HEADER } from '@morgan/session-client';

/** An acknowledged publication. */
export interface Published {
  seq: number;
  /** Index of the client whose session got it. */
  target: number;
  /** When it was sent and when it was acknowledged, epoch ms. */
  sentAt: number;
  ackedAt: number;
}

/** What one batch of publishing (between two `take()`s) did. */
export interface PublishBatch {
  acked: Published[];
  /** Seqs sent but not acknowledged (a node died under the request, 502, 503 …), by outcome. */
  failed: Map<string, number[]>;
}

export interface PublisherOptions {
  /** nginx's URL. */
  url: string;
  /** Session id of client `i` now (undefined skips it this turn). */
  sessionOf: (index: number) => string | undefined;
  clients: number;
  /** Messages per second over all sessions. */
  ratePerSecond: number;
  /** Requests in flight at most. */
  maxInFlight: number;
}

const TICK_MS = 10;

export class Publisher {
  readonly #options: PublisherOptions;
  #seq = 0;
  #turn = 0;
  #inFlight = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #credit = 0;
  #lastTick = 0;
  #batch: PublishBatch = { acked: [], failed: new Map() };
  readonly #pending = new Set<Promise<void>>();

  constructor(options: PublisherOptions) {
    this.#options = options;
  }

  /** Starts (or resumes) publishing. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#lastTick = performance.now();
    this.#credit = 0;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Stops sending and waits for the requests in flight. */
  async pause(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#pending]);
  }

  /** What was published since the last `take()`. */
  take(): PublishBatch {
    const batch = this.#batch;
    this.#batch = { acked: [], failed: new Map() };
    return batch;
  }

  #tick(): void {
    const now = performance.now();
    this.#credit = Math.min(
      this.#credit + ((now - this.#lastTick) * this.#options.ratePerSecond) / 1000,
      this.#options.maxInFlight,
    );
    this.#lastTick = now;
    while (this.#credit >= 1 && this.#inFlight < this.#options.maxInFlight) {
      this.#credit -= 1;
      const target = this.#turn;
      this.#turn = (this.#turn + 1) % this.#options.clients;
      const sessionId = this.#options.sessionOf(target);
      if (sessionId === undefined) continue;
      this.#send(++this.#seq, target, sessionId);
    }
  }

  #send(seq: number, target: number, sessionId: string): void {
    this.#inFlight += 1;
    const batch = this.#batch;
    const failed = (outcome: string) => {
      const seqs = batch.failed.get(outcome) ?? [];
      seqs.push(seq);
      batch.failed.set(outcome, seqs);
    };
    const sentAt = Date.now();
    const request = fetch(`${this.#options.url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SESSION_HEADER]: sessionId },
      body: JSON.stringify({ message: `p8 ${seq}` }),
      signal: AbortSignal.timeout(15_000),
    })
      .then(async (response) => {
        await response.arrayBuffer();
        if (response.ok) batch.acked.push({ seq, target, sentAt, ackedAt: Date.now() });
        else failed(String(response.status));
      })
      .catch((error: unknown) => {
        failed(error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'network');
      })
      .finally(() => {
        this.#inFlight -= 1;
        this.#pending.delete(request);
      });
    this.#pending.add(request);
  }
}
