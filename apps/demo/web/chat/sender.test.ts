import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatSender, type SenderHooks } from './sender.js';

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function recorder() {
  const events: string[] = [];
  const hooks: SenderHooks = {
    onAttempt: (attempt) => events.push(`attempt ${attempt}`),
    onShed: ({ status, delayMs }) =>
      events.push(`shed ${status} ${delayMs >= 1000 ? '>=1s' : '<1s'}`),
    onUnreachable: () => events.push('unreachable'),
  };
  return { events, hooks };
}

describe('ChatSender', () => {
  it('sends every attempt of one message with one idempotency key, and each message with its own', async () => {
    vi.useFakeTimers();
    const keys: [string, string][] = [];
    let fail = true;
    const post = vi.fn(async (message: string, key: string) => {
      keys.push([message, key]);
      if (fail) {
        fail = false;
        throw new TypeError('Failed to fetch');
      }
      return json(200, { reply: 're', sessionId: 's', messageCount: keys.length });
    });
    const sender = new ChatSender({ post, hooks: recorder().hooks });
    const first = sender.send('one');
    const second = sender.send('two');
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all([first, second]);
    expect(keys.map(([message]) => message)).toEqual(['one', 'one', 'two']);
    expect(keys[1]?.[1]).toBe(keys[0]?.[1]);
    expect(keys[2]?.[1]).not.toBe(keys[0]?.[1]);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries a shed message after Retry-After until the server takes it', async () => {
    vi.useFakeTimers();
    const answers = [
      json(503, { error: { code: 'SERVER_AT_CAPACITY' } }, { 'retry-after': '1' }),
      json(429, { error: { code: 'RATE_LIMITED' } }, { 'retry-after': '1' }),
      json(200, { reply: 'hi', sessionId: 's', messageCount: 1 }),
    ];
    const post = vi.fn(async () => answers.shift()!);
    const { events, hooks } = recorder();
    const retries: string[] = [];
    const sent = new ChatSender({ post, hooks }).send('hello', (reason) => retries.push(reason));
    await vi.advanceTimersByTimeAsync(999);
    expect(post).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(sent).resolves.toEqual({ reply: 'hi', sessionId: 's', messageCount: 1 });
    expect(post).toHaveBeenCalledTimes(3);
    expect(events).toEqual([
      'attempt 1',
      'shed 503 >=1s',
      'attempt 2',
      'shed 429 >=1s',
      'attempt 3',
    ]);
    expect(retries).toEqual(['shed', 'shed']);
  });

  it('retries while the server is unreachable, and sends messages one at a time in order', async () => {
    vi.useFakeTimers();
    let down = true;
    const order: string[] = [];
    const post = vi.fn(async (message: string) => {
      if (down) throw new TypeError('Failed to fetch');
      order.push(message);
      return json(200, { reply: `re ${message}`, sessionId: 's', messageCount: order.length });
    });
    const { hooks } = recorder();
    const sender = new ChatSender({ post, hooks });
    const first = sender.send('one');
    const second = sender.send('two');
    await vi.advanceTimersByTimeAsync(3_000);
    down = false;
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await first).reply).toBe('re one');
    expect((await second).messageCount).toBe(2);
    expect(order).toEqual(['one', 'two']);
  });

  it('fails on other errors without retrying, and the next message still goes', async () => {
    const post = vi
      .fn<(message: string) => Promise<Response>>()
      .mockResolvedValueOnce(json(400, { error: { code: 'INVALID_REQUEST', message: 'empty' } }))
      .mockResolvedValueOnce(json(200, { reply: 'ok', sessionId: 's', messageCount: 1 }));
    const sender = new ChatSender({ post, hooks: recorder().hooks });
    await expect(sender.send('')).rejects.toThrow('INVALID_REQUEST: empty');
    await expect(sender.send('next')).resolves.toMatchObject({ reply: 'ok' });
    expect(post).toHaveBeenCalledTimes(2);
  });

  it('gives up after maxAttempts', async () => {
    const post = vi.fn(async () => json(503, { error: { code: 'SERVER_AT_CAPACITY' } }));
    const sender = new ChatSender({ post, hooks: recorder().hooks, maxAttempts: 3, maxDelayMs: 1 });
    const response = sender.send('x');
    await expect(response).rejects.toThrow('SERVER_AT_CAPACITY');
    expect(post).toHaveBeenCalledTimes(3);
  });
});
