import { ClientErrorCode, SessionClientError, serverErrorCode } from './errors.js';
import { type CreateSessionInput, code, type SessionInfo } from './protocol.js';
import type { SessionApi } from './session-api.js';
import type { SessionReplacedEvent, SessionRotatedEvent } from './session-events.js';
import type { SessionIdStore } from './storage.js';

/** What the keeper announces. */
export interface SessionKeeperHooks {
  /** A session was resumed, created or replaced. */
  onSession: (session: SessionInfo) => void;
  /** The server no longer knew the session; called before `onSession` with the new one. */
  onReplaced: (event: SessionReplacedEvent) => void;
  /**
   * The server rotated the session to a new id, which calls carry from now
   * on; called before `onSession` with the rotated session.
   */
  onRotated: (event: SessionRotatedEvent) => void;
  /**
   * The session the open WebSocket is on, as the server now sees it, or
   * undefined without an open socket (or without an answer soon). The server
   * moves a rotated session's sockets to the new id, so this finds a
   * rotation nobody announced to this client.
   */
  socketSession: () => Promise<SessionInfo | undefined>;
  /** True once the client is closing: nothing new is adopted. */
  closed: () => boolean;
}

/**
 * Owns the client's session id: resumes the stored one, creates one,
 * replaces one the server no longer knows, and follows one the server
 * rotated, each exactly once however many callers notice (HTTP calls, the
 * socket, heartbeats, the event stream).
 */
export class SessionKeeper {
  readonly #api: SessionApi;
  readonly #ids: SessionIdStore;
  readonly #input: CreateSessionInput;
  readonly #hooks: SessionKeeperHooks;
  #id: string | undefined;
  #session: SessionInfo | undefined;
  #verified = false;
  #replacing: Promise<boolean> | undefined;

  constructor(
    api: SessionApi,
    ids: SessionIdStore,
    input: CreateSessionInput,
    hooks: SessionKeeperHooks,
  ) {
    this.#api = api;
    this.#ids = ids;
    this.#input = input;
    this.#hooks = hooks;
  }

  /** The id calls carry now. */
  get id(): string | undefined {
    return this.#id;
  }

  /** The session as the server last reported it. */
  get session(): SessionInfo | undefined {
    return this.#session;
  }

  /** True once the server confirmed a session of this client. */
  get verified(): boolean {
    return this.#verified;
  }

  /** Records a fresher report of the current session (no event). */
  refresh(session: SessionInfo): void {
    if (session.sessionId === this.#id) this.#session = session;
  }

  /** Forgets the stored id (after `endSession`). */
  forget(): void {
    this.#ids.clear();
  }

  /** First connect: resumes the stored id (`session.get`) or creates a session; replaces an unknown id. */
  async ensure(): Promise<void> {
    const id = this.#id ?? this.#ids.get();
    if (id === undefined) {
      this.#adopt(await this.#api.create(this.#input));
      return;
    }
    this.#id = id;
    try {
      this.#adopt(await this.#api.get(id));
    } catch (error) {
      const reason = serverErrorCode(error);
      if (reason !== code('SESSION_NOT_FOUND') && reason !== code('INVALID_SESSION_ID'))
        throw error;
      if (
        !(await this.replace(id, reason === code('INVALID_SESSION_ID') ? 'invalid' : 'not-found'))
      )
        throw error;
    }
  }

  /**
   * Replaces `previousId`, which the server does not know. When the open
   * socket is on another session now, `previousId` was rotated without this
   * client hearing of it (a call over the socket rotated it, or another
   * request, tab or node did): that id is followed and announced as a
   * rotation. Otherwise adopts a newer id another tab stored (shared
   * storage) when the server knows it, or creates a session, and announces
   * the replacement. Resolves `true` once a new session is in place (at once
   * when another caller already replaced `previousId`).
   */
  replace(previousId: string, reason: SessionReplacedEvent['reason']): Promise<boolean> {
    if (this.#hooks.closed()) return Promise.resolve(false);
    if (this.#id !== previousId) return Promise.resolve(this.#id !== undefined);
    this.#replacing ??= (async () => {
      try {
        const moved = reason === 'not-found' ? await this.#movedOnSocket(previousId) : undefined;
        if (moved !== undefined && !this.#hooks.closed()) {
          this.#switch(previousId, moved.sessionId);
          this.#session = moved;
          this.#verified = true;
          this.#hooks.onSession(moved);
          return true;
        }
        const session =
          (await this.#storedByOtherTab(previousId)) ?? (await this.#api.create(this.#input));
        if (this.#hooks.closed()) {
          throw new SessionClientError(
            ClientErrorCode.CLIENT_CLOSED,
            'The session client was closed',
          );
        }
        this.#adopt(session, {
          previousSessionId: previousId,
          sessionId: session.sessionId,
          reason,
        });
        return true;
      } finally {
        this.#replacing = undefined;
      }
    })();
    return this.#replacing;
  }

  /**
   * The server rotated `previousId` to `sessionId` (a response header or the
   * event stream said so): adopts the new id at once, so the next call,
   * heartbeat and socket carry it, and announces it. Returns `true` when it
   * switched; `false` when the client is not on `previousId` (already
   * followed, replaced meanwhile) or is closing. The session details are
   * read from the server afterwards and announced as `session`.
   */
  rotate(previousId: string | undefined, sessionId: string): boolean {
    if (this.#hooks.closed() || previousId === undefined || previousId === sessionId) return false;
    if (this.#id !== previousId || this.#replacing !== undefined) return false;
    this.#switch(previousId, sessionId);
    this.#api.get(sessionId).then(
      (session) => {
        if (this.#hooks.closed() || session.sessionId !== this.#id) return;
        this.#session = session;
        this.#verified = true;
        this.#hooks.onSession(session);
      },
      () => {
        // Gone again already (deleted, rotated once more): whoever uses it next finds out.
      },
    );
    return true;
  }

  /** Takes the rotated id at once (storage included) and announces the rotation. */
  #switch(previousId: string, sessionId: string): void {
    this.#id = sessionId;
    if (this.#session !== undefined) this.#session = { ...this.#session, sessionId };
    this.#ids.set(sessionId);
    this.#hooks.onRotated({ previousSessionId: previousId, sessionId });
  }

  /** The socket's session when the server moved the socket off `previousId`. */
  async #movedOnSocket(previousId: string): Promise<SessionInfo | undefined> {
    try {
      const session = await this.#hooks.socketSession();
      return session !== undefined && session.sessionId !== previousId ? session : undefined;
    } catch {
      return undefined;
    }
  }

  async #storedByOtherTab(previousId: string): Promise<SessionInfo | undefined> {
    const stored = this.#ids.get();
    if (stored === undefined || stored === previousId) return undefined;
    try {
      return await this.#api.get(stored);
    } catch {
      return undefined;
    }
  }

  #adopt(session: SessionInfo, replaced?: SessionReplacedEvent): void {
    this.#id = session.sessionId;
    this.#session = session;
    this.#verified = true;
    this.#ids.set(session.sessionId);
    if (replaced !== undefined) this.#hooks.onReplaced(replaced);
    this.#hooks.onSession(session);
  }
}
