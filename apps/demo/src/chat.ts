import {
  ErrorCode,
  MorganError,
  type SessionManager,
  StoreUnavailableError,
} from '@morgan/session-server';
import { MemoryMessageCounter, type MessageCounter } from './message-count.js';

/** Options of `ChatService`. */
export interface ChatOptions {
  /** Longest message accepted, in characters. @default 2000 */
  maxMessageLength?: number;
  /** Awaited before each reply (the admin dashboard's simulated slowness). @default none */
  beforeReply?: () => Promise<void>;
  /** Where message counts live; Redis when sessions are in Redis. @default new MemoryMessageCounter() */
  counter?: MessageCounter;
}

export const chatDefaults = {
  maxMessageLength: 2000,
} as const satisfies Omit<Required<ChatOptions>, 'beforeReply' | 'counter'>;

/** What `POST /api/chat` and `chat.send` answer. */
export interface ChatReply {
  reply: string;
  sessionId: string;
  /** Messages this session has sent, this one included. */
  messageCount: number;
}

/**
 * The demo's chat: a deterministic local reply (no external service) and a
 * message count per session, kept beside the sessions (this process, or Redis
 * for many nodes) and forgotten when the session is deleted or expires.
 *
 * @example
 * const chat = new ChatService(manager);
 * const { reply, messageCount } = await chat.send(sessionId, 'hello');
 */
export class ChatService {
  readonly maxMessageLength: number;
  readonly #manager: SessionManager;
  readonly #beforeReply: (() => Promise<void>) | undefined;
  readonly #counter: MessageCounter;
  readonly #forget = ({ sessionId }: { sessionId: string }) => {
    // Best effort: a count left behind expires with its key.
    this.#counter.forget(sessionId).catch(() => {});
  };

  constructor(manager: SessionManager, options: ChatOptions = {}) {
    this.#manager = manager;
    this.maxMessageLength = options.maxMessageLength ?? chatDefaults.maxMessageLength;
    this.#beforeReply = options.beforeReply;
    this.#counter = options.counter ?? new MemoryMessageCounter();
    manager.on('deleted', this.#forget);
    manager.on('expired', this.#forget);
  }

  /** Messages the session has sent so far. */
  countOf(sessionId: string): Promise<number> {
    return this.#counter.get(sessionId);
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
      throw new MorganError(ErrorCode.SESSION_NOT_FOUND);
    }
    const messageCount = await this.#counter.increment(sessionId).catch((error: unknown) => {
      throw new StoreUnavailableError('Message counts are unavailable', { cause: error });
    });
    const answer = { reply: compose(text, messageCount), sessionId, messageCount };
    // Every tab of the session hears the reply on `session.events`, replayed after a reconnect.
    await this.#manager.events.append(sessionId, 'chat.reply', answer);
    return answer;
  }

  /** Stops listening to the manager and releases the counter. */
  async close(): Promise<void> {
    this.#manager.off('deleted', this.#forget);
    this.#manager.off('expired', this.#forget);
    await this.#counter.close();
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
