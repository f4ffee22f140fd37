import type { SessionClientError } from './errors.js';
import type { HeartbeatReport } from './heartbeat.js';
import type { GapEvent, SessionEvent, SessionInfo } from './protocol.js';
import type { ConnectionState } from './state.js';

/** What `session-replaced` carries. */
export interface SessionReplacedEvent {
  /** The id the server no longer knew. */
  previousSessionId: string;
  /** The id in use from now on. */
  sessionId: string;
  /** `not-found`: expired, deleted or lost by a restart; `invalid`: the stored id was malformed. */
  reason: 'not-found' | 'invalid';
}

/**
 * What `session-rotated` carries: the server replaced the session by a new id
 * (`manager.rotateSession`, typically right after a login) and the client now
 * uses that id. Unlike a replacement, it is the same session under a new
 * name: same user, conversation and metadata, the WebSocket stays open, and
 * the event stream continues on the new id without losing events.
 */
export interface SessionRotatedEvent {
  /** The id the server retired; it answers 404 from now on. */
  previousSessionId: string;
  /** The id in use from now on (also in storage and in `client.sessionId`). */
  sessionId: string;
}

/** What `reconnect` carries: an attempt is about to wait `delayMs`, then try. */
export interface ReconnectEvent {
  /** 0 for the first retry after a loss. */
  attempt: number;
  delayMs: number;
}

/** The transport in use: the WebSocket, or Server-Sent Events (with calls over HTTP). */
export type TransportKind = 'websocket' | 'sse';

/** What `transport` carries: the transport now in use and why it changed. */
export interface TransportEvent {
  transport: TransportKind;
  previous: TransportKind;
  /** `websocket-refused`: upgrades fail while HTTP works; `websocket-restored`: a socket was confirmed again. */
  reason: 'websocket-refused' | 'websocket-restored';
}

/** The events of a session client and their listeners' signatures. */
export interface SessionClientEvents {
  /** The connection state changed. */
  state: (state: ConnectionState, previous: ConnectionState) => void;
  /** A session was resumed, created or replaced; carries it as the server reported it. */
  session: (session: SessionInfo) => void;
  /** The server no longer knew the session, so the client uses a new one (followed by `session`). */
  'session-replaced': (event: SessionReplacedEvent) => void;
  /**
   * The server rotated the session to a new id, learnt from the
   * `X-Session-Id` response header of the request that rotated it or from
   * the event stream's `session.rotated` notice; announced once per
   * rotation, before any call carries the new id. Followed by `session` once
   * the server reported the rotated session.
   *
   * @example
   * client.on('session-rotated', ({ previousSessionId, sessionId }) => {
   *   console.log(`session ${previousSessionId} is now ${sessionId}`);
   * });
   */
  'session-rotated': (event: SessionRotatedEvent) => void;
  /** Something failed that the app may want to show: a refused socket, a failed heartbeat, a stream error. */
  error: (error: SessionClientError) => void;
  /** A server event of the session (`subscribeEvents`), gaps included. */
  event: (event: SessionEvent) => void;
  /** Events were missed beyond the server's replay buffer. */
  gap: (event: GapEvent) => void;
  /** A heartbeat succeeded: round trip, expiry, next interval. */
  heartbeat: (report: HeartbeatReport) => void;
  /** A reconnect attempt was scheduled. */
  reconnect: (event: ReconnectEvent) => void;
  /**
   * `transport: 'auto'` moved subscriptions to another transport: to SSE
   * when WebSocket upgrades fail while HTTP works, back to the WebSocket
   * once a socket is confirmed again. The event stream resumed on it
   * without losing or repeating an event.
   */
  transport: (event: TransportEvent) => void;
}
