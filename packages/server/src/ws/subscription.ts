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

/** A subscription while its procedure admits it: its id is taken, a stop is remembered. */
export class PendingSubscription implements Subscription {
  readonly id: RequestId;
  /** The procedure's `signal`, aborted by a stop. */
  readonly controller = new AbortController();
  stopped = false;

  constructor(id: RequestId) {
    this.id = id;
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
  }
}

/**
 * The subscriptions a connection holds by request id: none, the one nearly
 * every client holds, or a map past one. Kept in a field of the handler
 * and changed with these functions, so a connection holds no object for it.
 */
export type HeldSubscriptions = Subscription | Map<RequestId, Subscription> | undefined;

export function findHeld(held: HeldSubscriptions, id: RequestId): Subscription | undefined {
  if (held instanceof Map) return held.get(id);
  return held?.id === id ? held : undefined;
}

/** `held` with `subscription` added under its id. */
export function withHeld(held: HeldSubscriptions, subscription: Subscription): HeldSubscriptions {
  if (held === undefined) return subscription;
  if (held instanceof Map) return held.set(subscription.id, subscription);
  return new Map([
    [held.id, held],
    [subscription.id, subscription],
  ]);
}

/** `held` without `subscription` (when it is still the one with its id). */
export function withoutHeld(
  held: HeldSubscriptions,
  subscription: Subscription,
): HeldSubscriptions {
  if (held === subscription) return undefined;
  if (!(held instanceof Map) || held.get(subscription.id) !== subscription) return held;
  held.delete(subscription.id);
  return held.size === 0 ? undefined : held;
}

/** Every subscription held (a copy, safe to stop while iterating). */
export function allHeld(held: HeldSubscriptions): Subscription[] {
  if (held === undefined) return [];
  return held instanceof Map ? [...held.values()] : [held];
}
