import type { TRPCUntypedClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { describe, expect, it, vi } from 'vitest';
import { EventStream, type EventStreamHooks } from './events.js';
import type { SessionEvent } from './protocol.js';

interface FakeSubscription {
  input: unknown;
  unsubscribed: boolean;
  data: (value: unknown) => void;
  error: (error: unknown) => void;
  complete: () => void;
}

/** An untyped tRPC client whose `session.events` subscriptions the test drives by hand. */
function fakeClient() {
  const subscriptions: FakeSubscription[] = [];
  const client = {
    subscription(
      _path: string,
      input: unknown,
      opts: {
        onData: (value: unknown) => void;
        onError: (error: unknown) => void;
        onComplete: () => void;
      },
    ) {
      const subscription: FakeSubscription = {
        input,
        unsubscribed: false,
        data: (value) => {
          if (!subscription.unsubscribed) opts.onData(value);
        },
        error: (error) => {
          if (!subscription.unsubscribed) opts.onError(error);
        },
        complete: () => {
          if (!subscription.unsubscribed) opts.onComplete();
        },
      };
      subscriptions.push(subscription);
      return {
        unsubscribe: () => {
          subscription.unsubscribed = true;
        },
      };
    },
  };
  return { client: client as unknown as TRPCUntypedClient<AnyRouter>, subscriptions };
}

function tick(id: string, n: number): SessionEvent {
  return { id, type: 'tick', data: { n }, at: 0 };
}

function rotated(sessionId: string): SessionEvent {
  return { id: '0-0', type: 'session.rotated', data: { sessionId }, at: 0 };
}

function setUp() {
  const { client, subscriptions } = fakeClient();
  const hooks: EventStreamHooks = { onEvent: vi.fn(), onError: vi.fn(), onRotated: vi.fn() };
  const stream = new EventStream(client, hooks);
  const received: SessionEvent[] = [];
  stream.add((event) => received.push(event));
  const latest = () => subscriptions.at(-1) as FakeSubscription;
  return { stream, hooks, received, subscriptions, latest };
}

describe('EventStream across a rotation', () => {
  it('follows a rotation notice: never delivered, reported once, restarted from the new session’s start', () => {
    const { stream, hooks, received, subscriptions, latest } = setUp();
    latest().data(tick('1-0', 1));
    latest().data(rotated('new-id'));

    expect(hooks.onRotated).toHaveBeenCalledExactlyOnceWith('new-id');
    expect(received.map((event) => event.id)).toEqual(['1-0']);
    expect(hooks.onEvent).toHaveBeenCalledTimes(1);
    expect(subscriptions).toHaveLength(2);
    expect(subscriptions[0]?.unsubscribed).toBe(true);
    expect(latest().input).toBeUndefined();
    expect(stream.lastEventId).toBeUndefined();

    latest().data(tick('5-0', 2));
    expect(received.map((event) => event.id)).toEqual(['1-0', '5-0']);
  });

  it('after a rotation learnt elsewhere, lets the old stream deliver its last events and restarts at its notice', () => {
    const { stream, hooks, received, subscriptions, latest } = setUp();
    latest().data(tick('1-0', 1));
    stream.followRotation();
    expect(subscriptions).toHaveLength(1);

    latest().data(tick('2-0', 2));
    latest().data(rotated('new-id'));

    expect(hooks.onRotated).not.toHaveBeenCalled();
    expect(received.map((event) => event.id)).toEqual(['1-0', '2-0']);
    expect(subscriptions).toHaveLength(2);
    expect(latest().input).toBeUndefined();
  });

  it('restarts afresh at once when the old stream ends otherwise, without reporting an error', () => {
    const { stream, hooks, subscriptions, latest } = setUp();
    latest().data(tick('1-0', 1));
    stream.followRotation();
    latest().error(new Error('SESSION_NOT_FOUND'));

    expect(hooks.onError).not.toHaveBeenCalled();
    expect(subscriptions).toHaveLength(2);
    expect(latest().input).toBeUndefined();

    stream.followRotation();
    latest().complete();
    expect(subscriptions).toHaveLength(3);
    expect(latest().input).toBeUndefined();
  });

  it('restarts afresh when the socket is lost before the notice (tRPC would resend the old last id)', () => {
    const { stream, subscriptions, latest } = setUp();
    latest().data(tick('1-0', 1));
    stream.connectionLost();
    expect(subscriptions).toHaveLength(1);

    stream.followRotation();
    stream.connectionLost();
    expect(subscriptions).toHaveLength(2);
    expect(subscriptions[0]?.unsubscribed).toBe(true);
    expect(latest().input).toBeUndefined();
    stream.connectionLost();
    expect(subscriptions).toHaveLength(2);
  });

  it('resumes a failed stream from the last id, or from the start after a rotation', () => {
    const { stream, hooks, subscriptions, latest } = setUp();
    latest().data(tick('1-0', 1));
    latest().error(new Error('lost'));
    expect(hooks.onError).toHaveBeenCalledTimes(1);
    stream.resume();
    expect(latest().input).toEqual({ lastEventId: '1-0' });

    latest().error(new Error('lost'));
    stream.followRotation();
    stream.resume();
    expect(subscriptions).toHaveLength(3);
    expect(latest().input).toBeUndefined();
  });
});

describe('EventStream after a failed subscription', () => {
  it('starts again from the same id after the retry delay, the delay growing with failures in a row', () => {
    vi.useFakeTimers();
    try {
      const { client, subscriptions } = fakeClient();
      const delays: number[] = [];
      const hooks: EventStreamHooks = {
        onEvent: vi.fn(),
        onError: vi.fn(),
        onRotated: vi.fn(),
        retryDelayMs: (attempt) => {
          delays.push(attempt);
          return 100 * (attempt + 1);
        },
      };
      const stream = new EventStream(client, hooks);
      stream.add(() => {});
      const latest = () => subscriptions.at(-1) as FakeSubscription;
      latest().data(tick('3-0', 1));
      latest().error(new Error('STORE_UNAVAILABLE'));
      expect(hooks.onError).toHaveBeenCalledTimes(1);
      expect(subscriptions).toHaveLength(1);
      vi.advanceTimersByTime(99);
      expect(subscriptions).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(subscriptions).toHaveLength(2);
      expect(latest().input).toEqual({ lastEventId: '3-0' });

      latest().error(new Error('STORE_UNAVAILABLE'));
      vi.advanceTimersByTime(199);
      expect(subscriptions).toHaveLength(2);
      vi.advanceTimersByTime(1);
      expect(subscriptions).toHaveLength(3);
      // An event resets the count: the next failure waits the first delay again.
      latest().data(tick('4-0', 2));
      latest().error(new Error('STORE_UNAVAILABLE'));
      expect(delays).toEqual([0, 1, 0]);
      vi.advanceTimersByTime(100);
      expect(subscriptions).toHaveLength(4);
      expect(latest().input).toEqual({ lastEventId: '4-0' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('retries nothing once stopped', () => {
    vi.useFakeTimers();
    try {
      const { client, subscriptions } = fakeClient();
      const stream = new EventStream(client, {
        onEvent: vi.fn(),
        onError: vi.fn(),
        onRotated: vi.fn(),
        retryDelayMs: () => 100,
      });
      stream.add(() => {});
      (subscriptions.at(-1) as FakeSubscription).error(new Error('STORE_UNAVAILABLE'));
      stream.stop();
      vi.advanceTimersByTime(1_000);
      expect(subscriptions).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
