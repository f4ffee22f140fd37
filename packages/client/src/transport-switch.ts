import type { Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { TransportKind } from './session-events.js';

/** Where subscriptions go: the transport in use and its changes. */
export interface SubscriptionRoute<TRouter extends AnyRouter> {
  current: () => TransportKind;
  onSwitch: (listener: () => void) => () => void;
  websocket: TRPCLink<TRouter>;
  sse: TRPCLink<TRouter>;
}

/**
 * A terminating link for subscriptions over the transport in use. When the
 * transport changes, each running subscription ends on the old one and is
 * sent again on the new one with the id of the last tracked event it
 * delivered (as tRPC does after a reconnect), so the server resumes after it:
 * nothing is lost, nothing repeated.
 */
export function transportSwitchLink<TRouter extends AnyRouter>(
  route: SubscriptionRoute<TRouter>,
): TRPCLink<TRouter> {
  return (runtime) => {
    const links = { websocket: route.websocket(runtime), sse: route.sse(runtime) };
    return ({ op }) =>
      observable((observer) => {
        let lastEventId: string | undefined;
        let inner: Unsubscribable | undefined;
        let on: TransportKind | undefined;
        let done = false;
        /** Counts starts: an inner subscription ended by a move reports nothing. */
        let generation = 0;
        const start = () => {
          const mine = ++generation;
          const current = () => mine === generation && !done;
          on = route.current();
          const input = withLastEventId(op.input, lastEventId);
          const moved: Operation = { ...op, input };
          inner = links[on]({ op: moved, next: () => observable(() => {}) }).subscribe({
            next(envelope) {
              if (!current()) return;
              const id = (envelope.result as { id?: unknown } | undefined)?.id;
              if (typeof id === 'string' && id !== '') lastEventId = id;
              observer.next(envelope);
            },
            error(error) {
              if (!current()) return;
              done = true;
              observer.error(error);
            },
            complete() {
              if (!current()) return;
              done = true;
              observer.complete();
            },
          });
        };
        const off = route.onSwitch(() => {
          if (done || route.current() === on) return;
          const previous = inner;
          inner = undefined;
          generation += 1;
          previous?.unsubscribe();
          start();
        });
        start();
        return () => {
          done = true;
          generation += 1;
          off();
          inner?.unsubscribe();
        };
      });
  };
}

/** tRPC's rule: an object (or no) input gets `lastEventId`; other inputs stay as they are. */
function withLastEventId(input: unknown, lastEventId: string | undefined): unknown {
  if (lastEventId === undefined) return input;
  if (input !== null && input !== undefined && typeof input !== 'object') return input;
  return { ...((input as object | null | undefined) ?? {}), lastEventId };
}
