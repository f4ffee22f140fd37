import type { EventLog } from '../events/event-log.js';
import { RecentRotations } from '../rotations.js';
import type { Session, SessionRecord } from '../session.js';
import { announceFallbacks, type StoreFallback } from '../store/capabilities.js';
import type { Store, StoreEvent } from '../store/store.js';
import type { ManagerEmitter, SessionEndedEvent } from './events.js';

/** What a `SessionAnnouncer` needs. */
export interface AnnouncerParts {
  /** The manager, which emits the events. */
  readonly emitter: ManagerEmitter;
  /** Whose streams an ended or rotated session loses. */
  readonly events: EventLog;
  readonly now: () => number;
}

/** The part of a record that says whose session ended. */
type EndedRecord = Pick<SessionRecord, 'sessionId' | 'userId'>;

/**
 * Turns what happens to sessions into the manager's events, alike whether
 * this node did it (`local`) or another node did (`remote`, from the
 * store's events): an ended or rotated session's event stream is dropped, a
 * rotation is remembered a minute so that streams and sockets can follow it,
 * and this node's creations and endings are counted for the metrics.
 */
export class SessionAnnouncer {
  readonly #emitter: ManagerEmitter;
  readonly #events: EventLog;
  readonly #now: () => number;
  readonly #rotations = new RecentRotations();
  #created = 0;
  #expired = 0;
  #deleted = 0;

  constructor(parts: AnnouncerParts) {
    this.#emitter = parts.emitter;
    this.#events = parts.events;
    this.#now = parts.now;
  }

  /** Sessions this node created since start. */
  get created(): number {
    return this.#created;
  }

  /** Sessions this node found expired since start. */
  get expired(): number {
    return this.#expired;
  }

  /** Sessions this node deleted since start. */
  get deleted(): number {
    return this.#deleted;
  }

  /** This node created `session`. */
  sessionCreated(session: Session): void {
    this.#created += 1;
    this.#emitter.emit('created', session);
  }

  /** This node deleted the session. */
  sessionDeleted(record: EndedRecord): void {
    this.#deleted += 1;
    this.#dropEvents(record.sessionId);
    this.#emitter.emit('deleted', ended(record.sessionId, record.userId, 'local'));
  }

  /** This node's sweep removed the expired session. */
  sessionExpired(record: EndedRecord): void {
    this.#expired += 1;
    this.#dropEvents(record.sessionId);
    this.#emitter.emit('expired', ended(record.sessionId, record.userId, 'local'));
  }

  /** Remembers a rotation, lets listeners move sockets, then ends the old streams. */
  sessionRotated(sessionId: string, newSessionId: string, origin: 'local' | 'remote'): void {
    this.#rotations.remember(sessionId, newSessionId, this.#now());
    this.#emitter.emit('rotated', { sessionId, newSessionId, origin });
    this.#dropEvents(sessionId);
  }

  /** Another node ended or rotated a session (the store's `subscribe`). */
  fromStore(event: StoreEvent): void {
    if (event.type === 'rotated') {
      this.sessionRotated(event.sessionId, event.newSessionId, 'remote');
      return;
    }
    this.#dropEvents(event.sessionId);
    this.#emitter.emit(event.type, ended(event.sessionId, undefined, 'remote'));
  }

  /** The id that replaced `sessionId` in a rotation seen in the last minute, if any. */
  rotatedTo(sessionId: string): string | undefined {
    return this.#rotations.get(sessionId, this.#now());
  }

  /**
   * `store` lacks the optional capabilities `fallbacks` (this node stands
   * in): `warning` when anyone listens, else `process.emitWarning`; nothing
   * when there are none.
   */
  storeFellBack(store: Store, fallbacks: readonly StoreFallback[]): void {
    announceFallbacks(store, fallbacks, (warning) => this.#emitter.emit('warning', warning));
  }

  /** A failure in the background: `error`, when anyone listens (else it would throw). */
  failed(error: unknown): void {
    if (this.#emitter.listenerCount('error') > 0) {
      this.#emitter.emit('error', error instanceof Error ? error : new Error(String(error)));
    }
  }

  #dropEvents(sessionId: string): void {
    this.#events.drop(sessionId).catch((error: unknown) => this.failed(error));
  }
}

function ended(
  sessionId: string,
  userId: string | undefined,
  origin: SessionEndedEvent['origin'],
): SessionEndedEvent {
  return userId === undefined ? { sessionId, origin } : { sessionId, userId, origin };
}
