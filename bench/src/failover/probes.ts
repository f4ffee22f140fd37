// One SDK client of P8 (@morgan/session-client with Node's `ws`), subscribed
// to its session's events, and what happened to it, with epoch-ms times:
// every loss of its connection and its return, the backoff delay of each
// reconnect attempt, the chat events it received (by the publisher's seq),
// gaps, replacements and errors. Phases read the records in their window.
import {
  createSessionClient,
  isGapEvent,
  type SessionClient,
  type SessionEvent,
} from '@morgan/session-client';
import { idempotencyKeys } from '@morgan/session-client/idempotency';
import { sseTransport } from '@morgan/session-client/sse';
import type { AnyRouter } from '@trpc/server';
import { WebSocket } from 'ws';

/** A reconnect attempt the SDK scheduled: its number since the loss (0 first) and its backoff delay. */
export interface AttemptRecord {
  at: number;
  attempt: number;
  delayMs: number;
}

/** The publisher's seq in a chat reply: the message was `p8 <seq>`. */
const SEQ = /"p8 (\d+)"/;

export class Probe {
  readonly index: number;
  readonly client: SessionClient<AnyRouter>;
  /** The session id the first connect got. */
  sessionId = '';
  /** Times it dropped out of `connected`. */
  readonly drops: number[] = [];
  /** Times it was `connected` again after a drop. */
  readonly backs: number[] = [];
  readonly attempts: AttemptRecord[] = [];
  /** Times of gap events. */
  readonly gaps: number[] = [];
  /** Times of session replacements (the server no longer knew the session). */
  readonly replaced: number[] = [];
  /** Error events: when, their code and message. */
  readonly errors: Array<{ at: number; code: string; message: string }> = [];
  /** Why each failed connection or attempt failed, as the `reconnecting` states said. */
  readonly failures: Array<{ at: number; attempt: number; code: string; closeCode?: number }> = [];
  /** How often each seq arrived. */
  readonly received = new Map<number, number>();
  /** Times when a seq arrived a second time (or more). */
  readonly duplicateAt: number[] = [];

  constructor(index: number, url: string) {
    this.index = index;
    this.client = createSessionClient<AnyRouter>({
      url,
      WebSocket,
      storage: 'memory',
      onlineEvents: false,
      transport: sseTransport(),
      idempotencyKeys: idempotencyKeys(),
    });
    this.client.on('state', (state, previous) => {
      if (state.status === 'reconnecting' && state.error !== undefined) {
        const { code, closeCode } = state.error;
        this.failures.push({
          at: Date.now(),
          attempt: state.attempt,
          code,
          ...(closeCode !== undefined && { closeCode }),
        });
      }
      if (previous.status === 'connected' && state.status !== 'connected') {
        this.drops.push(Date.now());
      } else if (state.status === 'connected' && this.drops.length > this.backs.length) {
        this.backs.push(Date.now());
      }
    });
    this.client.on('reconnect', ({ attempt, delayMs }) => {
      this.attempts.push({ at: Date.now(), attempt, delayMs });
    });
    this.client.on('session-replaced', () => this.replaced.push(Date.now()));
    this.client.on('error', (error) =>
      this.errors.push({ at: Date.now(), code: error.code, message: error.message }),
    );
  }

  /** Connects (session.create, WebSocket) and subscribes to `session.events`. */
  async connect(): Promise<void> {
    this.sessionId = (await this.client.connect()).sessionId;
    this.client.subscribeEvents((event) => this.#onEvent(event));
  }

  get connected(): boolean {
    return this.client.state === 'connected';
  }

  /** Same session as at the start, never replaced (since `since`), connected now. */
  resumed(since: number): boolean {
    return (
      this.connected &&
      this.client.sessionId === this.sessionId &&
      !this.replaced.some((at) => at >= since)
    );
  }

  #onEvent(event: SessionEvent): void {
    if (isGapEvent(event)) {
      this.gaps.push(Date.now());
      return;
    }
    const reply = (event.data as { reply?: unknown } | null)?.reply;
    const seq = typeof reply === 'string' ? SEQ.exec(reply)?.[1] : undefined;
    if (seq === undefined) return;
    const n = Number(seq);
    const times = (this.received.get(n) ?? 0) + 1;
    this.received.set(n, times);
    if (times > 1) this.duplicateAt.push(Date.now());
  }
}
