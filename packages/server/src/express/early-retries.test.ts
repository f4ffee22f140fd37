import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionManager } from '../manager.js';
import { createTestApp } from '../testing/express-app.js';
import { startHttpServer } from '../testing/http-server.js';
import { EarlyRetries } from './early-retries.js';

/** Enough of a ServerResponse for `hold`. */
function fakeResponse(socket: Socket) {
  const res = Object.assign(new EventEmitter(), {
    socket,
    destroyed: false,
    writableEnded: false,
  });
  return res as unknown as ServerResponse & EventEmitter;
}

describe('EarlyRetries', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a connection shed again before Retry-After waits out the rest of it; others are answered at once', () => {
    const early = new EarlyRetries(1000);
    const a = {} as Socket;
    const b = {} as Socket;
    expect(early.shed(a, 0)).toBe(0);
    expect(early.shed(a, 10)).toBe(990);
    expect(early.shed(b, 10)).toBe(0);
    expect(early.shed(a, 1000)).toBe(0);
    expect(early.shed(null, 1001)).toBe(0);
  });

  it('sends a held answer when its wait is over, and counts it as the latest shed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const early = new EarlyRetries(1000);
    const socket = {} as Socket;
    expect(early.shed(socket)).toBe(0);
    const waitMs = early.shed(socket);
    expect(waitMs).toBe(1000);
    const send = vi.fn();
    expect(early.hold(fakeResponse(socket), waitMs, send)).toBe(true);
    expect(early.held).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(send).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(send).toHaveBeenCalledTimes(1);
    expect(early.held).toBe(0);
    // The client retries at once after the held answer: it waits again.
    expect(early.shed(socket)).toBe(1000);
  });

  it('a client that goes away while held frees its place and gets nothing', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const early = new EarlyRetries(1000);
    const socket = {} as Socket;
    const res = fakeResponse(socket);
    const send = vi.fn();
    early.hold(res, 500, send);
    res.emit('close');
    expect(early.held).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(send).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('sessionMiddleware with slowEarlyRetries', () => {
  it('holds the 503 of a connection that retries at once, not that of another connection', async () => {
    const manager = new SessionManager({ maxConcurrentRequests: 1 }).start();
    const { app, hold } = createTestApp(manager, { slowEarlyRetries: true });
    await using http = await startHttpServer(app);
    const held = fetch(`${http.url}/hold`);
    await hold.arrived(1);
    const { port } = http;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (via: Agent | false) =>
      new Promise<{ status: number; at: number }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/hello', agent: via }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, at: performance.now() }));
        });
        req.on('error', reject);
        req.end();
      });
    const first = await get(agent);
    expect(first.status).toBe(503);
    const early = get(agent);
    const other = await get(false);
    expect(other.status).toBe(503);
    const retried = await early;
    expect(retried.status).toBe(503);
    // Answered once Retry-After (1 s) had passed since the first 503: a lower
    // bound, which a slower machine only makes longer.
    expect(retried.at - first.at).toBeGreaterThanOrEqual(990);
    expect(retried.at).toBeGreaterThan(other.at);
    agent.destroy();
    hold.release();
    await held;
    await manager.stop({ drainTimeoutMs: 0 });
  });
});
