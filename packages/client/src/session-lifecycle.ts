import type { TRPCUntypedClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { ClientConfig } from './client-config.js';
import type { ConnectionSession } from './connection.js';
import type { Emitter } from './emitter.js';
import {
  ClientErrorCode,
  clientClosedError,
  serverErrorCode,
  toSessionClientError,
} from './errors.js';
import { EventStream, isGapEvent } from './events.js';
import { HeartbeatTimer } from './heartbeat.js';
import type { ClientLifetime } from './lifetime.js';
import { code, type HeartbeatResult, type SessionInfo } from './protocol.js';
import type { RotateSession } from './rotation.js';
import { SessionApi } from './session-api.js';
import type { SessionClientEvents } from './session-events.js';
import { SessionKeeper } from './session-keeper.js';
import type { SessionSocket } from './socket.js';
import type { ConnectionState } from './state.js';

/** The session calls of the links and of `fetch`: the id to send, and what to do when it changes. */
export interface SessionCalls {
  sessionId: () => string | undefined;
  /** The server does not know `sentId`: resolves `true` once a new session is in place. */
  replaceSession: (sentId: string) => Promise<boolean>;
  rotateSession: RotateSession;
}

/**
 * The session calls through the keeper `keeper()` returns: the links need
 * them to make the tRPC client, before the keeper (which calls through that
 * client) exists.
 */
export function sessionCalls(keeper: () => SessionKeeper): SessionCalls {
  return {
    sessionId: () => keeper().id,
    replaceSession: (sentId) => keeper().replace(sentId, 'not-found'),
    rotateSession: (sentId, sessionId) => {
      keeper().rotate(sentId, sessionId);
    },
  };
}

/** What a {@link SessionLifecycle} works with besides the client's config. */
export interface SessionLifecycleDeps {
  emitter: Emitter<SessionClientEvents>;
  lifetime: ClientLifetime;
  /** The client's WebSocket, if one is open: a rotation moves it along, and it says which session it is on. */
  socket: () => SessionSocket | undefined;
}

/**
 * The session's life in the client: its id ({@link SessionKeeper}: resumed,
 * created, replaced, rotated), the `session.*` calls ({@link SessionApi}),
 * heartbeats ({@link HeartbeatTimer}) and the session's event stream
 * ({@link EventStream}), with what each announces. The connection starts
 * and stops heartbeats and the stream ({@link ConnectionSession}).
 */
export class SessionLifecycle implements ConnectionSession {
  readonly api: SessionApi;
  readonly keeper: SessionKeeper;
  readonly #heartbeat: HeartbeatTimer;
  readonly events: EventStream;
  readonly #emitter: Emitter<SessionClientEvents>;

  constructor(
    client: TRPCUntypedClient<AnyRouter>,
    config: Pick<ClientConfig, 'ids' | 'createInput' | 'heartbeatIntervalMs' | 'retryDelayMs'>,
    deps: SessionLifecycleDeps,
  ) {
    const { emitter, lifetime, socket } = deps;
    this.#emitter = emitter;
    this.api = new SessionApi(client, lifetime.signal);
    this.keeper = new SessionKeeper(this.api, config.ids, config.createInput, {
      onSession: (session) => emitter.emit('session', session),
      onReplaced: (event) => emitter.emit('session-replaced', event),
      onRotated: (event) => {
        // The server moved the open socket to the new id: it stays open.
        socket()?.followRotation(event.previousSessionId, event.sessionId);
        this.events.followRotation();
        emitter.emit('session-rotated', event);
      },
      socketSession: async () => socket()?.currentSession(),
      closed: () => lifetime.closed,
    });
    this.#heartbeat = new HeartbeatTimer({
      intervalMs: config.heartbeatIntervalMs,
      beat: () => this.#beat(),
      onBeat: (report) => emitter.emit('heartbeat', report),
      onError: (error) => this.#onHeartbeatError(error),
    });
    this.events = new EventStream(client, {
      onEvent: (event) => {
        emitter.emit('event', event);
        if (isGapEvent(event)) emitter.emit('gap', event);
      },
      onError: (error) => emitter.emit('error', toSessionClientError(error)),
      retryDelayMs: config.retryDelayMs,
      onRotated: (sessionId) => {
        this.keeper.rotate(this.keeper.id, sessionId);
      },
    });
  }

  get session(): SessionInfo | undefined {
    return this.keeper.session;
  }

  get sessionId(): string | undefined {
    return this.keeper.id;
  }

  connected(previous: ConnectionState): void {
    // Beat at once while the server's timeout (hence the interval) is
    // unknown, and after being offline.
    this.#heartbeat.start(previous.status === 'offline' || !this.#heartbeat.knowsTimeout);
    this.events.resume();
  }

  disconnected(): void {
    this.#heartbeat.stop();
  }

  lost(): void {
    this.events.connectionLost();
  }

  /** The lazy socket closed while idle (the session stays): heartbeats pause. */
  pauseHeartbeats(): void {
    this.#heartbeat.stop();
  }

  /** The lazy socket opened again: heartbeats go on. */
  resumeHeartbeats(): void {
    if (!this.#heartbeat.running) this.#heartbeat.start();
  }

  /** Stops heartbeats and the event stream (shutdown). */
  stop(): void {
    this.#heartbeat.stop();
    this.events.stop();
  }

  /** Deletes the session on the server and forgets the stored id (`close({ endSession: true })`). */
  async end(): Promise<void> {
    const id = this.keeper.id;
    if (id === undefined) return;
    await this.api.delete(id).catch(() => {});
    this.keeper.forget();
  }

  async #beat(): Promise<HeartbeatResult> {
    const id = this.keeper.id;
    if (id === undefined) throw clientClosedError();
    return this.api.heartbeat(id);
  }

  #onHeartbeatError(error: unknown): void {
    const reason = serverErrorCode(error);
    const id = this.keeper.id;
    if (
      (reason === code('SESSION_NOT_FOUND') || reason === code('INVALID_SESSION_ID')) &&
      id !== undefined
    ) {
      // The server closes the lost session's socket (4404); it reopens with the new id.
      this.keeper
        .replace(id, reason === code('INVALID_SESSION_ID') ? 'invalid' : 'not-found')
        .catch((failure: unknown) => this.#emitter.emit('error', toSessionClientError(failure)));
      return;
    }
    const failure = toSessionClientError(error);
    if (failure.code !== ClientErrorCode.CLIENT_CLOSED) this.#emitter.emit('error', failure);
  }
}
