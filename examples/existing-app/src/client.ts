// The client SDK from Node, logged in. In a browser page of the same origin
// the login cookie goes along by itself, on fetch and on the WebSocket
// upgrade; in Node, pass a fetch and a WebSocket that send it.
import { createSessionClient, type SessionClientOptions } from '@morgan/session-client';
import { idempotencyKeys } from '@morgan/session-client/idempotency';
import { sseTransport } from '@morgan/session-client/sse';
import { WebSocket } from 'ws';
import type { AppRouter } from './router.js';

/**
 * A session client for the app at `url`, sending `cookie` (the login's
 * `connect.sid=…`) with every request and on the WebSocket upgrade.
 */
export function createAppClient(
  url: string,
  cookie?: string,
  options: Partial<SessionClientOptions> = {},
) {
  const withCookie = (headers?: HeadersInit): Headers => {
    const merged = new Headers(headers);
    if (cookie !== undefined) merged.set('cookie', cookie);
    return merged;
  };
  class CookieWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers: Object.fromEntries(withCookie()) });
    }
  }
  return createSessionClient<AppRouter>({
    url,
    storage: 'memory',
    WebSocket: CookieWebSocket,
    fetch: (input, init) => fetch(input, { ...init, headers: withCookie(init?.headers) }),
    // The SSE fallback and exactly-once mutations are opt-in imports.
    transport: sseTransport(),
    idempotencyKeys: idempotencyKeys(),
    ...options,
  });
}

/** Logs in with a password; returns the session cookie to send along. */
export async function logIn(url: string, username: string, password: string): Promise<string> {
  const response = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw new Error(`login failed: ${response.status}`);
  const cookie = response.headers.getSetCookie()[0]?.split(';')[0];
  if (cookie === undefined) throw new Error('login set no cookie');
  return cookie;
}
