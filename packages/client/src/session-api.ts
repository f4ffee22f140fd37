import type { TRPCUntypedClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { CreateSessionInput, HeartbeatResult, SessionInfo } from './protocol.js';

/**
 * Context of the client's own calls: they carry exactly the session id given
 * (or none with `null`), go unbatched, and never trigger a replacement
 * themselves; queries and heartbeats are retried on 503/429.
 */
export interface InternalCallContext {
  [key: string]: unknown;
  morganSessionId: string | null;
  morganNoReplace: true;
  idempotent?: boolean;
}

/** The `session.*` procedures the client calls for itself, over HTTP. */
export class SessionApi {
  readonly #client: TRPCUntypedClient<AnyRouter>;
  readonly #signal: AbortSignal;

  constructor(client: TRPCUntypedClient<AnyRouter>, signal: AbortSignal) {
    this.#client = client;
    this.#signal = signal;
  }

  /** The session `sessionId` as stored now; fails with `SESSION_NOT_FOUND` when the server lost it. */
  get(sessionId: string): Promise<SessionInfo> {
    return this.#client.query(
      'session.get',
      undefined,
      this.#options(sessionId),
    ) as Promise<SessionInfo>;
  }

  /**
   * The caller's session, asked over the WebSocket: the answer proves the
   * server accepted the socket's session (it closes refused sockets with
   * 4400/4404 instead).
   */
  confirmSocket(): Promise<SessionInfo> {
    return this.#client.query('session.get', undefined, {
      context: { morganTransport: 'ws' },
      signal: this.#signal,
    }) as Promise<SessionInfo>;
  }

  /** Creates a session (sent without any session id). Not replayed on 503: the caller's backoff retries. */
  create(input: CreateSessionInput): Promise<SessionInfo> {
    return this.#client.mutation(
      'session.create',
      input,
      this.#options(null),
    ) as Promise<SessionInfo>;
  }

  /** Touches `sessionId` and learns the server's timeout; idempotent, so retried on 503/429. */
  heartbeat(sessionId: string): Promise<HeartbeatResult> {
    return this.#client.mutation('session.heartbeat', undefined, {
      ...this.#options(sessionId),
      context: { ...internal(sessionId), idempotent: true },
    }) as Promise<HeartbeatResult>;
  }

  /** Ends `sessionId` on the server. Not bound to the client's lifetime, so `close()` can await it. */
  async delete(sessionId: string): Promise<void> {
    await this.#client.mutation('session.delete', undefined, {
      context: { ...internal(sessionId), idempotent: true },
    });
  }

  #options(sessionId: string | null) {
    return { context: internal(sessionId), signal: this.#signal };
  }
}

function internal(sessionId: string | null): InternalCallContext {
  return { morganSessionId: sessionId, morganNoReplace: true };
}
