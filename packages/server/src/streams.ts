/** Options of a `StreamBudget`. */
export interface StreamBudgetOptions {
  /** Streams (SSE subscriptions) open at once on this node. @default 10_000 */
  maxStreams?: number;
  /** Streams one session may hold open at once on this node. @default 8 */
  maxStreamsPerSession?: number;
}

export const streamBudgetDefaults = {
  maxStreams: 10_000,
  maxStreamsPerSession: 8,
} as const satisfies Required<StreamBudgetOptions>;

/** Why a stream was refused: the node is full, or the session holds its share. */
export type StreamRefusal = 'node' | 'session';

/**
 * Long-lived streams (tRPC subscriptions over SSE) have a budget of their
 * own: they never hold a request slot of `maxConcurrentRequests`, so open
 * streams cannot make ordinary requests answer 503, and one session cannot
 * take the node's whole budget.
 *
 * @example
 * const refusal = budget.open(sessionId);
 * if (refusal !== undefined) return reject(refusal);
 * res.on('close', () => budget.close(sessionId));
 */
export class StreamBudget {
  readonly maxStreams: number;
  readonly maxStreamsPerSession: number;
  readonly #bySession = new Map<string, number>();
  #open = 0;

  constructor(options: StreamBudgetOptions = {}) {
    this.maxStreams = options.maxStreams ?? streamBudgetDefaults.maxStreams;
    this.maxStreamsPerSession =
      options.maxStreamsPerSession ?? streamBudgetDefaults.maxStreamsPerSession;
  }

  /** Streams open on this node now. */
  get open(): number {
    return this.#open;
  }

  /** Streams a session holds open on this node now. */
  openFor(sessionId: string): number {
    return this.#bySession.get(sessionId) ?? 0;
  }

  /**
   * Counts a new stream of `sessionId` (undefined: a stream without a
   * session, held to the node's budget only), or says why it is refused
   * (nothing is counted then).
   */
  tryOpen(sessionId: string | undefined): StreamRefusal | undefined {
    if (this.#open >= this.maxStreams) return 'node';
    if (sessionId === undefined) {
      this.#open += 1;
      return undefined;
    }
    const held = this.#bySession.get(sessionId) ?? 0;
    if (held >= this.maxStreamsPerSession) return 'session';
    this.#bySession.set(sessionId, held + 1);
    this.#open += 1;
    return undefined;
  }

  /** Uncounts a stream opened with `tryOpen`. */
  close(sessionId: string | undefined): void {
    if (sessionId === undefined) {
      if (this.#open > 0) this.#open -= 1;
      return;
    }
    const held = this.#bySession.get(sessionId);
    if (held === undefined) return;
    if (held <= 1) this.#bySession.delete(sessionId);
    else this.#bySession.set(sessionId, held - 1);
    this.#open -= 1;
  }
}
