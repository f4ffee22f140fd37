import { type BrowserContext, expect, type Locator, type Page } from '@playwright/test';

/** Options of `ChatTab.open`. */
export interface OpenChatOptions {
  /** `local` shares one session across the context's tabs. @default 'session' */
  storage?: 'session' | 'local';
  /** User name of the session the tab creates. */
  user?: string;
  /** `shared`: the context's tabs share one WebSocket (`?connection=shared`). @default per tab */
  connection?: 'per-tab' | 'shared';
  /** Wait until the tab shows `connected`. @default true */
  waitConnected?: boolean;
  /** The SDK's `transport` (`?transport=`). @default 'auto' (the page's default) */
  transport?: 'auto' | 'websocket' | 'sse';
}

/** One browser tab on the chat page, read and driven through `data-testid`s. */
export class ChatTab {
  readonly page: Page;

  constructor(page: Page) {
    this.page = page;
  }

  /** Opens a new tab of `context` on the chat page at `baseUrl`. */
  static async open(
    context: BrowserContext,
    baseUrl: string,
    options: OpenChatOptions = {},
  ): Promise<ChatTab> {
    const page = await context.newPage();
    const query = new URLSearchParams();
    if (options.storage === 'local') query.set('storage', 'local');
    if (options.user !== undefined) query.set('user', options.user);
    if (options.transport !== undefined) query.set('transport', options.transport);
    if (options.connection === 'shared') query.set('connection', 'shared');
    const search = query.size > 0 ? `?${query}` : '';
    await page.goto(`${baseUrl}/${search}`);
    const tab = new ChatTab(page);
    if (options.waitConnected !== false) await tab.expectConnected();
    return tab;
  }

  byTestId(id: string): Locator {
    return this.page.getByTestId(id);
  }

  get state(): Locator {
    return this.byTestId('connection-state');
  }

  get replacedBanner(): Locator {
    return this.byTestId('banner-replaced');
  }

  get overloadBanner(): Locator {
    return this.byTestId('banner-overload');
  }

  /** The `data-state` of the connection chip (`connected`, `reconnecting`, …). */
  async stateName(): Promise<string | null> {
    return this.state.getAttribute('data-state');
  }

  async expectConnected(timeout = 15_000): Promise<void> {
    await expect(this.state).toHaveAttribute('data-state', 'connected', { timeout });
    await expect(this.byTestId('session-id')).toHaveAttribute('data-session-id', /^[0-9a-f-]{36}$/);
  }

  /** The full session id the tab shows (the visible text is shortened). */
  async sessionId(): Promise<string> {
    const id = await this.byTestId('session-id').getAttribute('data-session-id');
    if (id === null || id === '') throw new Error('The tab shows no session id yet');
    return id;
  }

  /** Types a message and presses Enter. */
  async send(text: string): Promise<void> {
    const input = this.byTestId('chat-input');
    await expect(input).toBeEnabled();
    await input.fill(text);
    await input.press('Enter');
  }

  /** Messages this tab sent, and their replies (not those learnt from other tabs' events). */
  messages(role: 'user' | 'assistant'): Locator {
    return this.page.locator(
      `[data-testid="message"][data-role="${role}"]:not([data-origin="event"])`,
    );
  }

  /** Messages and replies of other tabs of the same session, learnt from `chat.reply` events. */
  eventMessages(role: 'user' | 'assistant'): Locator {
    return this.page.locator(`[data-testid="message"][data-role="${role}"][data-origin="event"]`);
  }

  /** Texts of the user's messages or Morgan's replies, in order. */
  async texts(role: 'user' | 'assistant'): Promise<string[]> {
    return this.messages(role).getByTestId('message-text').allTextContents();
  }

  /** Waits until `count` user messages are delivered and `count` replies shown. */
  async expectExchanges(count: number, timeout = 30_000): Promise<void> {
    await expect(this.messages('user').and(this.page.locator('[data-status="sent"]'))).toHaveCount(
      count,
      {
        timeout,
      },
    );
    await expect(this.messages('assistant')).toHaveCount(count, { timeout });
  }

  /** The per-session message count the server reported last. */
  async messageCount(): Promise<number> {
    return Number(await this.byTestId('message-count').textContent());
  }

  /** How many 503/429 answers this tab retried. */
  async shedRetries(): Promise<number> {
    return Number((await this.overloadBanner.getAttribute('data-shed-count')) ?? '0');
  }

  /** Waits until the chip has shown `state` (polled; transient states need the server to hold them). */
  async expectState(state: string, timeout = 15_000): Promise<void> {
    await expect(this.state).toHaveAttribute('data-state', state, { timeout });
  }
}
