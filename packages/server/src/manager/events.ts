import type { EventEmitter } from 'node:events';
import type { Session } from '../session.js';
import type { StoreFallbackWarning } from '../store/capabilities.js';

/** How a session ended, as announced by the `deleted` and `expired` events. */
export interface SessionEndedEvent {
  sessionId: string;
  userId?: string;
  /** `local` when this node ended it, `remote` when another node did. */
  origin: 'local' | 'remote';
}

/** A session replaced by a new id (`rotateSession`), as the `rotated` event announces it. */
export interface SessionRotatedEvent {
  /** The old id, which answers 404 from now on. */
  sessionId: string;
  /** The id that replaced it. */
  newSessionId: string;
  /** `local` when this node rotated it, `remote` when another node did. */
  origin: 'local' | 'remote';
}

/** Events a `SessionManager` emits. */
export interface SessionManagerEvents {
  created: [session: Session];
  deleted: [event: SessionEndedEvent];
  expired: [event: SessionEndedEvent];
  /** A session got a new id; its sockets and streams follow it. */
  rotated: [event: SessionRotatedEvent];
  /** A background sweep failed (for example the store was unreachable). */
  error: [error: Error];
  /** Once at `start()` when the store lacks capabilities (else `process.emitWarning`). */
  warning: [warning: StoreFallbackWarning];
}

/** Where the manager's parts emit its events: the manager itself. */
export type ManagerEmitter = EventEmitter<SessionManagerEvents>;
