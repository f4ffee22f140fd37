import type { Operation, TRPCLink, TRPCWebSocketClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { type ClientSocketEncoder, idempotencyKeyOf } from './idempotency-key.js';
import type { IdempotencyKeysPlugin } from './plugins.js';

export { IDEMPOTENCY_HEADER, idempotencyKeyOf } from './idempotency-key.js';

/** The mutation that makes sessions: it has no session to keep a key in, so it is never stamped. */
const SESSION_CREATE_PATH = 'session.create';

/**
 * Stamps every mutation but `session.create` and calls marked
 * `context.idempotent` (such as the client's heartbeats) with an idempotency key, made
 * once per operation (`crypto.randomUUID()`, or the caller's
 * `context.idempotencyKey`), so every retry and replay of the operation
 * carries the same key and the server runs it once. Off when `enabled` is
 * false (a caller's own key is still sent).
 */
export function idempotencyLink<TRouter extends AnyRouter>(enabled: boolean): TRPCLink<TRouter> {
  return () =>
    ({ op, next }) => {
      if (op.type !== 'mutation' || op.path === SESSION_CREATE_PATH) return next(op);
      const given = op.context.idempotencyKey;
      // A call marked idempotent (the client's heartbeats) may run twice
      // anyway: a key would only cost the server a record per call.
      const stamp = enabled && op.context.idempotent !== true;
      const key = typeof given === 'string' ? given : stamp ? randomKey() : undefined;
      if (key === undefined) return next(op);
      return next({ ...op, context: { ...op.context, morganIdempotencyKey: key } });
    };
}

function randomKey(): string {
  return globalThis.crypto.randomUUID();
}

/** The keys of WebSocket messages, by their serialized input (the object tRPC puts in `params.input`). */
const keyByInput = new WeakMap<object, string>();

/**
 * `client` for `wsLink`, sending each keyed operation's key with its
 * message: the operation's input is serialized into a fresh object, which
 * {@link idempotencyEncoder} finds again when tRPC encodes the message (also
 * when it sends it again after a reconnect).
 */
export function keyedWsClient(client: TRPCWebSocketClient): TRPCWebSocketClient {
  const request: TRPCWebSocketClient['request'] = (opts) => {
    // `wsLink` hands the whole operation over, its context included.
    const key = idempotencyKeyOf(opts.op as Partial<Pick<Operation, 'context'>>);
    if (key === undefined) return client.request(opts);
    const { transformer } = opts;
    return client.request({
      ...opts,
      transformer: {
        ...transformer,
        input: {
          ...transformer.input,
          serialize: (input: unknown) => {
            // superjson answers a fresh object per call: `{ json, meta? }`.
            const serialized = transformer.input.serialize(input) as unknown;
            if (typeof serialized === 'object' && serialized !== null) {
              keyByInput.set(serialized, key);
            }
            return serialized;
          },
        },
      },
    });
  };
  return Object.create(client, { request: { value: request } }) as TRPCWebSocketClient;
}

interface OutgoingMessage {
  method?: unknown;
  params?: { input?: unknown; [field: string]: unknown };
}

/**
 * tRPC's JSON encoder, adding `params.idempotencyKey` to the messages of
 * keyed operations (the server's parser ignores fields it does not know).
 */
export const idempotencyEncoder: ClientSocketEncoder = {
  encode(data: unknown): string {
    return JSON.stringify(Array.isArray(data) ? data.map(stamp) : stamp(data));
  },
  decode(data: string | ArrayBuffer | Uint8Array): unknown {
    if (typeof data !== 'string') {
      throw new Error('The session client expects JSON text frames');
    }
    return JSON.parse(data);
  },
};

function stamp(message: unknown): unknown {
  const input = (message as OutgoingMessage | null)?.params?.input;
  if (typeof input !== 'object' || input === null) return message;
  const key = keyByInput.get(input);
  if (key === undefined) return message;
  const outgoing = message as OutgoingMessage;
  return { ...outgoing, params: { ...outgoing.params, idempotencyKey: key } };
}

/** Options of {@link idempotencyKeys}. */
export interface IdempotencyKeysOptions {
  /**
   * Stamp every mutation but `session.create` and calls marked
   * `context.idempotent` (the client's heartbeats) with a key; `false`
   * sends keys only for calls that pass `context.idempotencyKey`.
   * @default true
   */
  stamp?: boolean;
}

/**
 * Exactly-once mutations, for the client's `idempotencyKeys` option: each
 * mutation gets an idempotency key (`Idempotency-Key` over HTTP,
 * `params.idempotencyKey` over WebSocket), made once per call and kept by
 * its retries, so the server runs it once however often it is resent.
 * Keyed mutations go unbatched. Without it, no key is sent.
 *
 * @example
 * import { idempotencyKeys } from '@morgan/session-client/idempotency';
 * const client = createSessionClient<AppRouter>({ url, idempotencyKeys: idempotencyKeys() });
 */
export function idempotencyKeys(options: IdempotencyKeysOptions = {}): IdempotencyKeysPlugin {
  const stamp = options.stamp ?? true;
  return {
    stamp,
    link: <TRouter extends AnyRouter>() => idempotencyLink<TRouter>(stamp),
    wsClient: keyedWsClient,
    encoder: idempotencyEncoder,
  };
}
