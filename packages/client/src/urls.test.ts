import { describe, expect, it } from 'vitest';
import { resolveUrls } from './urls.js';

describe('resolveUrls', () => {
  it('derives the HTTP and WebSocket tRPC endpoints', () => {
    expect(resolveUrls('http://localhost:3000', '/trpc')).toEqual({
      base: 'http://localhost:3000/',
      trpcHttp: 'http://localhost:3000/trpc',
      trpcWs: 'ws://localhost:3000/trpc',
    });
  });

  it('keeps a base path and switches https to wss', () => {
    const urls = resolveUrls('https://example.test/app/', 'trpc');
    expect(urls.trpcHttp).toBe('https://example.test/app/trpc');
    expect(urls.trpcWs).toBe('wss://example.test/app/trpc');
  });

  it('rejects a relative URL where there is no page to resolve it against', () => {
    expect(() => resolveUrls('/', '/trpc')).toThrow();
  });
});
