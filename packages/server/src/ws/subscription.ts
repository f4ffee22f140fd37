/** A request id of tRPC's WebSocket protocol (`null` is refused before a call is made). */
export type RequestId = string | number;

/** One call of a message: what its answers carry and what errors report. */
export interface Call {
  readonly id: RequestId;
  readonly jsonrpc: '2.0' | undefined;
  readonly type: 'query' | 'mutation' | 'subscription';
  readonly path: string;
  /** The input, with `lastEventId` merged in as tRPC does. */
  readonly input: unknown;
}

/** A subscription a connection holds under its request id. */
export interface Subscription {
  readonly id: RequestId;
  /** Stopped by the client (`subscription.stop`), or its socket closed. */
  stop(): void;
}

/** A subscription admitted by its procedure, not yet started. */
export interface AdmittedSubscription extends Subscription {
  /** Answers `started` and starts sending data. */
  start(): void;
}

/** What a subscription uses of the handler of its connection. */
export interface SubscriptionOwner {
  /** True while answers can be sent. */
  readonly open: boolean;
  /**
   * Sends a result of the call (`started`, data). Throws when the router's
   * transformer cannot serialise it (nothing is sent then).
   */
  result(call: Call, result: SubscriptionResult): void;
  /** Reports the error to `onError` and answers it, in the router's error shape. */
  fail(call: Call, cause: unknown): void;
  /** Reports the error to `onError` only. */
  report(call: Call, cause: unknown): void;
  /** The subscription ended: its id is free again, and the client gets `stopped`. */
  ended(subscription: Subscription, call: Call): void;
  /** The id that replaced a rotated session (`manager.rotatedTo`). */
  rotatedTo(sessionId: string): string | undefined;
}

/** What a subscription sends before `stopped`: `started`, then data (with its `tracked()` id). */
export type SubscriptionResult = { type: 'started' } | { type: 'data'; data: unknown; id?: string };

/** tRPC's `started` result. */
export const STARTED = { type: 'started' } as const;

/** True when `cause` (or the error it wraps) is an `AbortError`: how a stopped procedure gives up. */
export function isAbortError(cause: unknown): boolean {
  return nameOf(cause) === 'AbortError' || nameOf(causeOf(cause)) === 'AbortError';
}

function nameOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'name' in value ? value.name : undefined;
}

function causeOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'cause' in value ? value.cause : undefined;
}
