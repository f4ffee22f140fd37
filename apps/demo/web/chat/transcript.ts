/** Where a message the user sent stands. */
export type MessageStatus = 'pending' | 'retrying' | 'sent' | 'failed';

/** A user message on screen whose status the sender updates. */
export interface UserMessageView {
  readonly element: HTMLLIElement;
  status(status: MessageStatus, note?: string): void;
}

/** How `Transcript.assistant` shows a reply. */
export interface ReplyOptions {
  /** `<sessionId>:<messageCount>` of the exchange. */
  key?: string | undefined;
  /** Small print under the bubble. @default 'Morgan' */
  note?: string;
  /** `event` for replies learnt from session events. @default 'local' */
  origin?: 'local' | 'event';
  /** Skip the reply when `key` is already on screen. @default false */
  onlyOnce?: boolean;
  /** Put the reply right after this message (its question) instead of at the end. */
  after?: Element;
}

/** What the transcript keeps so a reload can show the conversation again. */
interface SavedEntry {
  role: 'user' | 'assistant' | 'divider';
  text: string;
  /** `<sessionId>:<messageCount>` of a completed exchange. */
  key?: string;
}

const MAX_SAVED = 200;

/**
 * The conversation on screen. Exchanges are keyed by session id and the
 * server's message count, so a reply that arrives twice (HTTP answer and
 * `chat.reply` event, or a replay after a reconnect) is shown once. The
 * transcript is saved in the same storage as the session id, so a reload
 * shows it again.
 */
export class Transcript {
  readonly #list: HTMLElement;
  readonly #storage: Storage | undefined;
  readonly #keys = new Set<string>();
  #saved: SavedEntry[] = [];
  #storageKey: string | undefined;

  constructor(list: HTMLElement, storage: Storage | undefined) {
    this.#list = list;
    this.#storage = storage;
  }

  /** True when the exchange `key` is already on screen. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Switches to the saved transcript of `sessionId` (restoring it when present). */
  useSession(sessionId: string): void {
    const storageKey = `morgan.transcript.${sessionId}`;
    if (storageKey === this.#storageKey) return;
    this.#storageKey = storageKey;
    this.#saved = [];
    for (const entry of this.#read(storageKey) ?? []) {
      if (entry.role === 'divider') {
        this.#divider(entry.text);
      } else if (entry.role === 'user') {
        this.#append('user', entry.text, 'sent');
      } else {
        if (entry.key !== undefined) this.#keys.add(entry.key);
        this.#append('assistant', entry.text, 'sent');
      }
      this.#saved.push(entry);
    }
  }

  /** Adds a message the user is sending (`event`: one another tab sent, learnt from session events). */
  user(text: string, origin: 'local' | 'event' = 'local'): UserMessageView {
    const element = this.#append('user', text, 'pending');
    element.dataset.origin = origin;
    const meta = element.querySelector('.meta')!;
    return {
      element,
      status: (status, note) => {
        element.dataset.status = status;
        meta.textContent = note ?? label(status);
        if (status === 'sent') this.#save({ role: 'user', text });
      },
    };
  }

  /**
   * Adds a reply of Morgan's. With `onlyOnce`, a reply whose `key` is already
   * on screen is skipped (events that repeat an answer); returns false then.
   */
  assistant(text: string, options: ReplyOptions = {}): boolean {
    const { key, note, origin = 'local', onlyOnce = false, after } = options;
    if (key !== undefined) {
      if (onlyOnce && this.#keys.has(key)) return false;
      this.#keys.add(key);
    }
    const element = this.#append('assistant', text, 'sent');
    if (after?.isConnected === true) after.after(element);
    element.dataset.origin = origin;
    if (key !== undefined) element.dataset.key = key;
    if (note !== undefined) element.querySelector('.meta')!.textContent = note;
    this.#save(key === undefined ? { role: 'assistant', text } : { role: 'assistant', text, key });
    return true;
  }

  /** Adds a line across the conversation (session replaced, restart, …). */
  divider(text: string): void {
    this.#divider(text);
    this.#save({ role: 'divider', text });
  }

  #divider(text: string): void {
    const item = document.createElement('li');
    item.className = 'divider';
    item.dataset.testid = 'divider';
    item.textContent = text;
    this.#list.append(item);
    this.#scroll();
  }

  #append(role: 'user' | 'assistant', text: string, status: MessageStatus): HTMLLIElement {
    const item = document.createElement('li');
    item.className = `message message-${role}`;
    item.dataset.testid = 'message';
    item.dataset.role = role;
    item.dataset.status = status;
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    bubble.dataset.testid = 'message-text';
    bubble.textContent = text;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = role === 'user' ? label(status) : 'Morgan';
    item.append(bubble, meta);
    this.#list.append(item);
    this.#scroll();
    return item;
  }

  #scroll(): void {
    this.#list.scrollTop = this.#list.scrollHeight;
  }

  #save(entry: SavedEntry): void {
    if (this.#storageKey === undefined || this.#storage === undefined) return;
    this.#saved.push(entry);
    if (this.#saved.length > MAX_SAVED) this.#saved.splice(0, this.#saved.length - MAX_SAVED);
    try {
      this.#storage.setItem(this.#storageKey, JSON.stringify(this.#saved));
    } catch {
      // Storage full or disabled: the transcript simply is not restored.
    }
  }

  #read(storageKey: string): SavedEntry[] | undefined {
    try {
      const raw = this.#storage?.getItem(storageKey);
      if (raw === null || raw === undefined) return undefined;
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? (parsed as SavedEntry[]) : undefined;
    } catch {
      return undefined;
    }
  }
}

function label(status: MessageStatus): string {
  switch (status) {
    case 'pending':
      return 'sending…';
    case 'retrying':
      return 'retrying…';
    case 'sent':
      return 'delivered';
    case 'failed':
      return 'not delivered';
  }
}
