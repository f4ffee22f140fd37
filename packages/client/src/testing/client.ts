import { WebSocket } from 'ws';
import { SessionClient } from '../client.js';
import { idempotencyKeys } from '../opt-in/idempotency.js';
import { sseTransport } from '../opt-in/sse.js';
import type { SessionClientOptions } from '../options.js';
import type { SessionClientEvents } from '../session-events.js';
import type { ConnectionStatus } from '../state.js';
import type { TestRouter, TestServer } from './server.js';

/** A client under test with everything it announced recorded. */
export interface RecordedClient extends AsyncDisposable {
  client: SessionClient<TestRouter>;
  /** Every state it went through, starting with `idle`. */
  states: ConnectionStatus[];
  /** Every event, by name, in order. */
  log: { [K in keyof SessionClientEvents]: Parameters<SessionClientEvents[K]>[] };
  /** Resolves once `predicate` holds after some event (checked at once too). */
  until(predicate: () => boolean, what?: string): Promise<void>;
}

/**
 * A Node client for `server` (WebSocket from `ws`, memory storage, fast
 * reconnects unless overridden) that records its events, closed by
 * `await using`. It opts in to the SSE fallback (`sseTransport()`) and
 * idempotency keys unless told otherwise (`transport: 'websocket'`,
 * `idempotencyKeys: undefined`): the suites were written when those were
 * the defaults, and the app they model (the demo) imports both.
 */
export function recordedClient(
  server: TestServer,
  options: Partial<SessionClientOptions> & { noWebSocket?: true } = {},
): RecordedClient {
  const { noWebSocket, ...rest } = options;
  const client = new SessionClient<TestRouter>({
    url: server.url,
    ...(noWebSocket === true ? {} : { WebSocket }),
    storage: 'memory',
    onlineEvents: false,
    transport: sseTransport(),
    idempotencyKeys: idempotencyKeys(),
    ...rest,
    reconnect: { baseDelayMs: 20, maxDelayMs: 200, ...rest.reconnect },
  });
  const states: ConnectionStatus[] = [client.state];
  const log = {
    state: [],
    session: [],
    'session-replaced': [],
    'session-rotated': [],
    error: [],
    event: [],
    gap: [],
    heartbeat: [],
    reconnect: [],
    transport: [],
  } as unknown as RecordedClient['log'];
  const checks = new Set<() => void>();
  for (const name of Object.keys(log) as (keyof SessionClientEvents)[]) {
    client.on(name, ((...args: never[]) => {
      (log[name] as unknown[][]).push(args);
      if (name === 'state')
        states.push((args[0] as unknown as { status: ConnectionStatus }).status);
      for (const check of [...checks]) check();
    }) as SessionClientEvents[typeof name]);
  }
  const until = (predicate: () => boolean, what = 'condition') =>
    new Promise<void>((resolve, reject) => {
      if (predicate()) {
        resolve();
        return;
      }
      // Checked after each client event, and every 10 ms for server-side facts.
      const poll = setInterval(() => check(), 10);
      const timer = setTimeout(() => {
        clearInterval(poll);
        checks.delete(check);
        reject(new Error(`Timed out waiting for ${what}; states: ${states.join(' → ')}`));
      }, 10_000);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        clearInterval(poll);
        checks.delete(check);
        resolve();
      };
      checks.add(check);
    });
  return {
    client,
    states,
    log,
    until,
    [Symbol.asyncDispose]: () => client.close(),
  };
}
