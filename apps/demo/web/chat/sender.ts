/** The body of a `POST /api/chat` answer. */
export interface ChatAnswer {
  reply: string;
  sessionId: string;
  messageCount: number;
}

/** What the sender reports while a message is on its way. */
export interface SenderHooks {
  /** The server shed the request (503) or rate-limited it (429); retrying after `delayMs`. */
  onShed(info: { status: number; attempt: number; delayMs: number }): void;
  /** The server could not be reached; retrying after `delayMs`. */
  onUnreachable(info: { attempt: number; delayMs: number; error: unknown }): void;
  /** An attempt is going out. */
  onAttempt(attempt: number): void;
}

/** Options of `ChatSender`. */
export interface ChatSenderOptions {
  /**
   * Sends one attempt of `message`; every attempt of one message carries the
   * same `idempotencyKey`, so the server runs it once however many arrive.
   */
  post: (message: string, idempotencyKey: string) => Promise<Response>;
  hooks: SenderHooks;
  /** Longest wait between attempts, in ms. @default 5000 */
  maxDelayMs?: number;
  /** Attempts before giving up. @default 40 */
  maxAttempts?: number;
}

/**
 * Sends chat messages one at a time, in order, and retries each until the
 * server takes it:
 * - 503 `SERVER_AT_CAPACITY` / 429: the server refused the request before
 *   reading it, so sending it again cannot duplicate it; wait `Retry-After`
 *   plus jitter (doubling, capped) and retry;
 * - network errors (server restarting, a connection cut while the answer
 *   was on its way): wait and retry, the same way; each message has one
 *   idempotency key for all its attempts, so the server answers a repeat
 *   with the first reply instead of sending it twice.
 * An unknown session (404) is handled by the session client, which replaces
 * the session and resends once.
 */
export class ChatSender {
  readonly #options: ChatSenderOptions;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ChatSenderOptions) {
    this.#options = options;
  }

  /**
   * Queues `message`; resolves with the server's answer. `onRetry` hears
   * about this message's retries (the hooks hear about every message's).
   */
  send(message: string, onRetry?: (reason: 'shed' | 'unreachable') => void): Promise<ChatAnswer> {
    const result = this.#queue.then(() => this.#deliver(message, onRetry));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #deliver(
    message: string,
    onRetry: ((reason: 'shed' | 'unreachable') => void) | undefined,
  ): Promise<ChatAnswer> {
    const { post, hooks } = this.#options;
    const maxDelayMs = this.#options.maxDelayMs ?? 5000;
    const maxAttempts = this.#options.maxAttempts ?? 40;
    const idempotencyKey = globalThis.crypto.randomUUID();
    for (let attempt = 1; ; attempt += 1) {
      hooks.onAttempt(attempt);
      let response: Response;
      try {
        response = await post(message, idempotencyKey);
      } catch (error) {
        if (isClosed(error) || attempt >= maxAttempts) throw error;
        const delayMs = backoff(attempt, 0, maxDelayMs);
        hooks.onUnreachable({ attempt, delayMs, error });
        onRetry?.('unreachable');
        await sleep(delayMs);
        continue;
      }
      if ((response.status === 503 || response.status === 429) && attempt < maxAttempts) {
        const retryAfterMs = retryAfter(response.headers.get('retry-after'));
        await response.body?.cancel();
        const delayMs = backoff(attempt, retryAfterMs, maxDelayMs);
        hooks.onShed({ status: response.status, attempt, delayMs });
        onRetry?.('shed');
        await sleep(delayMs);
        continue;
      }
      const body: unknown = await response.json().catch(() => undefined);
      if (!response.ok) {
        const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
        throw new Error(
          `${error?.code ?? `HTTP ${response.status}`}: ${error?.message ?? 'request failed'}`,
        );
      }
      return body as ChatAnswer;
    }
  }
}

/** `Retry-After` in ms (seconds or an HTTP date); 0 when absent. */
function retryAfter(header: string | null): number {
  if (header === null) return 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? 0 : Math.max(0, date - Date.now());
}

/** At least `Retry-After`, plus jitter that doubles per attempt, capped. */
function backoff(attempt: number, floorMs: number, maxDelayMs: number): number {
  const jitter = Math.random() * Math.min(maxDelayMs, 250 * 2 ** (attempt - 1));
  return Math.min(maxDelayMs, floorMs + jitter);
}

function isClosed(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'CLIENT_CLOSED';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
