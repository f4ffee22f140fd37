import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SessionClientError } from './errors.js';
import type { SessionInfo } from './protocol.js';
import { ReconnectScheduler } from './reconnect.js';
import type { TransportEvent } from './session-events.js';
import type { SessionSocketHooks } from './socket.js';
import { TransportController, type TransportControllerHooks } from './transport.js';
import { TrialScheduler } from './trial-scheduler.js';

const options = { failures: 2, timeoutMs: 10_000, retryWebSocketMs: 30_000 };
const lost = new SessionClientError('NETWORK_ERROR', 'WebSocket closed (1006)');
const session = { sessionId: 's1' } as SessionInfo;

function setup(http: () => Promise<boolean> = async () => true) {
  const events: TransportEvent[] = [];
  const calls = { tries: 0, drops: 0, connected: 0, lost: 0, fatal: 0 };
  const hooks: TransportControllerHooks = {
    httpWorks: http,
    onChange: (event) => events.push(event),
    tryWebSocket: () => {
      calls.tries += 1;
    },
    dropTrialSocket: () => {
      calls.drops += 1;
    },
    closed: () => false,
  };
  const controller = new TransportController('auto', options, true, hooks);
  const socket: SessionSocketHooks = {
    onConnected: () => {
      calls.connected += 1;
    },
    onLost: () => {
      calls.lost += 1;
    },
    onFatal: () => {
      calls.fatal += 1;
    },
    closed: () => false,
  };
  return { controller, events, calls, socket: controller.socketHooks(socket) };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('TransportController', () => {
  it("keeps 'websocket' and 'sse' as they are; 'auto' starts on the WebSocket, or on SSE without one", () => {
    const hooks = {} as TransportControllerHooks;
    const socket = {} as SessionSocketHooks;
    const fixed = new TransportController('websocket', options, true, hooks);
    expect(fixed.current).toBe('websocket');
    expect(fixed.socketHooks(socket)).toBe(socket);
    expect(new TransportController('sse', options, true, hooks).current).toBe('sse');
    expect(new TransportController('auto', options, true, hooks).current).toBe('websocket');
    expect(new TransportController('auto', options, false, hooks).current).toBe('sse');
  });

  it('moves to SSE after `failures` unconfirmed sockets when HTTP works, then tries the WebSocket every ~retryWebSocketMs', async () => {
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { controller, events, calls, socket } = setup();
    const switched: string[] = [];
    controller.onSwitch(() => switched.push(controller.current));
    controller.socketCreated();
    socket.onLost(lost);
    expect(controller.current).toBe('websocket');
    socket.onLost(lost);
    await vi.advanceTimersByTimeAsync(0);
    expect(controller.current).toBe('sse');
    expect(events).toEqual([
      { transport: 'sse', previous: 'websocket', reason: 'websocket-refused' },
    ]);
    expect(switched).toEqual(['sse']);
    // Both losses were the client's (it was reconnecting).
    expect(calls.lost).toBe(2);

    // Trials come every retryWebSocketMs × (½ + random): here exactly 1×.
    await vi.advanceTimersByTimeAsync(29_999);
    expect(calls.tries).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.tries).toBe(1);
    expect(controller.trying).toBe(true);
    // A failed trial is no loss of the client's connection.
    socket.onLost(lost);
    expect(calls.lost).toBe(2);
    expect(calls.drops).toBe(1);
    expect(controller.trying).toBe(false);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(calls.tries).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.tries).toBe(2);
    expect(controller.trying).toBe(true);
    // A trial that neither confirms nor closes counts as failed after timeoutMs.
    await vi.advanceTimersByTimeAsync(options.timeoutMs);
    expect(calls.drops).toBe(2);
    expect(controller.trying).toBe(false);

    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls.tries).toBe(3);
    random.mockRestore();
    socket.onConnected(session);
    expect(controller.current).toBe('websocket');
    expect(events.at(-1)).toEqual({
      transport: 'websocket',
      previous: 'sse',
      reason: 'websocket-restored',
    });
    expect(switched).toEqual(['sse', 'websocket']);
    expect(calls.connected).toBe(1);
    controller.close();
  });

  it('stays on the WebSocket while HTTP fails too (the server is down); once HTTP is back, `failures` more sockets must fail', async () => {
    let up = false;
    const { controller, events, socket } = setup(async () => up);
    socket.onLost(lost);
    socket.onLost(lost);
    await vi.advanceTimersByTimeAsync(0);
    expect(controller.current).toBe('websocket');
    // The server is back: these two may have failed while it was down.
    up = true;
    socket.onLost(lost);
    socket.onLost(lost);
    await vi.advanceTimersByTimeAsync(0);
    expect(controller.current).toBe('websocket');
    // Two more with HTTP known to work: the WebSocket is what is refused.
    socket.onLost(lost);
    socket.onLost(lost);
    await vi.advanceTimersByTimeAsync(0);
    expect(controller.current).toBe('sse');
    expect(events).toHaveLength(1);
    controller.close();
  });

  it('a confirmed socket resets the count: one refusal after it does not move the client', async () => {
    const { controller, socket } = setup();
    socket.onLost(lost);
    socket.onConnected(session);
    socket.onLost(lost); // the confirmed socket's loss
    socket.onLost(lost); // one refused attempt
    await vi.advanceTimersByTimeAsync(options.timeoutMs * 2);
    expect(controller.current).toBe('websocket');
    controller.close();
  });

  it('moves to SSE when a socket is neither confirmed nor closed within timeoutMs while HTTP works (a hanging upgrade)', async () => {
    const { controller, socket } = setup();
    controller.socketCreated();
    await vi.advanceTimersByTimeAsync(options.timeoutMs - 1);
    expect(controller.current).toBe('websocket');
    await vi.advanceTimersByTimeAsync(1);
    expect(controller.current).toBe('sse');
    expect(socket).toBeDefined();
    controller.close();
  });

  it('a confirmed socket before the timeout keeps the WebSocket', async () => {
    const { controller, socket } = setup();
    controller.socketCreated();
    socket.onConnected(session);
    await vi.advanceTimersByTimeAsync(options.timeoutMs * 2);
    expect(controller.current).toBe('websocket');
    // Nor does a socket that closes (it counts as one failure instead).
    controller.socketCreated();
    socket.onLost(lost);
    await vi.advanceTimersByTimeAsync(options.timeoutMs * 2);
    expect(controller.current).toBe('websocket');
    controller.close();
  });
});

describe('TrialScheduler', () => {
  it("holds a trial's reconnects until end() rejects them, and waits the client's scheduler once promoted", async () => {
    const scheduled: number[] = [];
    const main = new ReconnectScheduler({
      delayMs: () => 100,
      maxAttempts: Number.POSITIVE_INFINITY,
      onSchedule: (attempt) => scheduled.push(attempt),
    });
    const trial = new TrialScheduler(main);
    const held = trial.wait();
    const outcome = held.then(
      () => 'resolved',
      (error: SessionClientError) => error.code,
    );
    await vi.advanceTimersByTimeAsync(60_000);
    expect(scheduled).toEqual([]);
    trial.end();
    expect(await outcome).toBe('CLIENT_CLOSED');

    const promoted = new TrialScheduler(main);
    promoted.promote();
    const waited = promoted.wait();
    expect(scheduled).toEqual([0]);
    await vi.advanceTimersByTimeAsync(100);
    await expect(waited).resolves.toBeUndefined();
    main.close();
  });
});
