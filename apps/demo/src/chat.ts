import { ErrorCode, MorganError, type SessionManager } from '@morgan/session-server';

/** Options of `ChatService`. */
export interface ChatOptions {
  /** Longest message accepted, in characters. @default 2000 */
  maxMessageLength?: number;
  /** Awaited before each reply (the admin dashboard's simulated slowness). @default none */
  beforeReply?: () => Promise<void>;
}

export const chatDefaults = {
  maxMessageLength: 2000,
} as const satisfies Omit<Required<ChatOptions>, 'beforeReply'>;

/** What `POST /api/chat` and `chat.send` answer. */
export interface ChatReply {
  reply: string;
  sessionId: string;
  /** Messages this session has sent, this one included. */
  messageCount: number;
}

/**
 * The demo's chat: a deterministic local reply (no external service) and a
 * message count per session, kept in this node's memory and forgotten when
 * the session is deleted or expires.
 *
 * @example
 * const chat = new ChatService(manager);
 * const { reply, messageCount } = await chat.send(sessionId, 'hello');
 */
export class ChatService {
  readonly maxMessageLength: number;
  readonly #manager: SessionManager;
  readonly #beforeReply: (() => Promise<void>) | undefined;
  readonly #counts = new Map<string, number>();
  readonly #forget = ({ sessionId }: { sessionId: string }) => {
    this.#counts.delete(sessionId);
  };

  constructor(manager: SessionManager, options: ChatOptions = {}) {
    this.#manager = manager;
    this.maxMessageLength = options.maxMessageLength ?? chatDefaults.maxMessageLength;
    this.#beforeReply = options.beforeReply;
    manager.on('deleted', this.#forget);
    manager.on('expired', this.#forget);
  }

  /** Messages the session has sent so far. */
  countOf(sessionId: string): number {
    return this.#counts.get(sessionId) ?? 0;
  }

  /** Sessions with a count. */
  get trackedSessions(): number {
    return this.#counts.size;
  }

  /**
   * Answers a message of a session and publishes the answer as a `chat.reply`
   * event of the session (`session.events`).
   * @throws MorganError `INVALID_REQUEST` for an empty, non-string or too long message;
   *   `SESSION_NOT_FOUND` when the session ended meanwhile.
   */
  async send(sessionId: string, message: unknown): Promise<ChatReply> {
    const text = this.#validate(message);
    await this.#beforeReply?.();
    // The session may have been deleted while we waited: do not count for it again.
    if ((await this.#manager.getSession(sessionId)) === undefined) {
      throw new MorganError(ErrorCode.SESSION_NOT_FOUND, 'Session was not found or has expired');
    }
    const messageCount = (this.#counts.get(sessionId) ?? 0) + 1;
    this.#counts.set(sessionId, messageCount);
    const answer = { reply: compose(text, messageCount), sessionId, messageCount };
    // Every tab of the session hears the reply on `session.events`, replayed after a reconnect.
    await this.#manager.events.append(sessionId, 'chat.reply', answer);
    return answer;
  }

  /** Stops listening to the manager. */
  close(): void {
    this.#manager.off('deleted', this.#forget);
    this.#manager.off('expired', this.#forget);
    this.#counts.clear();
  }

  #validate(message: unknown): string {
    if (typeof message !== 'string' || message.trim() === '') {
      throw new MorganError(ErrorCode.INVALID_REQUEST, 'message must be a non-empty string');
    }
    if (message.length > this.maxMessageLength) {
      throw new MorganError(
        ErrorCode.INVALID_REQUEST,
        `message must be at most ${this.maxMessageLength} characters`,
      );
    }
    return message.trim();
  }
}

/** A deterministic reply: the same message and count always give the same answer. */
export function compose(message: string, messageCount: number): string {
  const quoted = message.length > 80 ? `${message.slice(0, 77)}...` : message;
  const words = message.split(/\s+/).filter(Boolean).length;
  const lead = /\?\s*$/.test(message)
    ? 'Good question.'
    : /^(hi|hello|hey)\b/i.test(message)
      ? 'Hello!'
      : 'Noted.';
  return `${lead} You said "${quoted}" (${words} ${words === 1 ? 'word' : 'words'}). That is message #${messageCount} in this session.`;
}
