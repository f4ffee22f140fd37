import { request as httpRequest } from 'node:http';
import express from 'express';
import { describe, expect, test, vi } from 'vitest';
import { SessionManager } from '../manager.js';
import { createHold } from '../testing/hold.js';
import { startHttpServer } from '../testing/http-server.js';
import { healthRoutes } from './health.js';
import { sessionMiddleware } from './session-middleware.js';
import { createShutdown, type ShutdownOptions } from './shutdown.js';

/** vi.waitFor's default 1 s is short on a busy machine; what is awaited takes milliseconds. */
const WAIT = { timeout: 10_000 };

async function startNode(options: Partial<ShutdownOptions> = {}, attachServer = true) {
  const manager = new SessionManager().start();
  const hold = createHold();
  const app = express();
  const exit = vi.fn<(code: number) => void>();
  const log = vi.fn<(message: string) => void>();
  let draining = () => false;
  app.use(sessionMiddleware(manager));
  app.use(healthRoutes(manager, { isDraining: () => draining() }));
  app.get('/hold', async (_req, res) => {
    await hold.enter();
    res.json({ finished: true });
  });
  const http = await startHttpServer(app);
  const shutdown = createShutdown({
    manager,
    server: attachServer ? http.server : undefined,
    exit,
    log,
    ...options,
  });
  draining = () => shutdown.draining;
  return { manager, hold, http, shutdown, exit, log };
}

/** A request on a connection of its own, resolving to its status or error code. */
function freshRequest(url: string, path: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const req = httpRequest({ hostname, port, path, agent: false }, (res) => {
      res.resume();
      resolve(`status ${res.statusCode}`);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    req.end();
  });
}

describe('graceful shutdown', () => {
  test('stops accepting, lets the in-flight request finish, runs hooks, stops the manager, exits 0', async () => {
    const { manager, hold, http, shutdown, exit } = await startNode();
    await using _ = http;
    const session = await manager.createSession();
    const inFlight = fetch(`${http.url}/hold`, { headers: { 'X-Session-Id': session.sessionId } });
    await hold.arrived(1);
    const order: string[] = [];
    shutdown.onShutdown(async () => {
      order.push(
        `hook (manager stopping: ${manager.stopping}, in flight: ${manager.capacity.inFlight})`,
      );
    });

    const done = shutdown.shutdown({ exitWhenDone: true });
    expect(shutdown.draining).toBe(true);
    expect(http.server.listening).toBe(false);
    expect(await freshRequest(http.url, '/health')).toBe('ECONNREFUSED');
    expect(manager.stopping).toBe(false);
    expect(exit).not.toHaveBeenCalled();

    hold.release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ finished: true });
    await done;
    expect(order).toEqual(['hook (manager stopping: false, in flight: 0)']);
    expect(manager.stopping).toBe(true);
    expect(manager.running).toBe(false);
    expect(manager.activeRequestCount).toBe(0);
    expect(exit).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(0);
    expect(shutdown.shutdown()).toBe(done);
  });

  test('past the drain deadline cuts remaining connections and still stops and exits 0', async () => {
    const { manager, hold, http, shutdown, exit, log } = await startNode({ drainTimeoutMs: 50 });
    await using _ = http;
    const stuck = freshRequest(http.url, '/hold');
    await hold.arrived(1);

    await shutdown.shutdown({ exitWhenDone: true });
    expect(await stuck).toBe('ECONNRESET');
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/deadline passed with 1 request/));
    expect(manager.stopping).toBe(true);
    expect(exit).toHaveBeenCalledWith(0);
    await vi.waitFor(() => expect(manager.capacity.inFlight).toBe(0), WAIT);
    hold.release();
  });

  test('/ready answers 503 while draining', async () => {
    const { hold, http, shutdown } = await startNode({}, false);
    await using _ = http;
    expect(await freshRequest(http.url, '/ready')).toBe('status 200');
    const stuck = freshRequest(http.url, '/hold');
    await hold.arrived(1);

    const done = shutdown.shutdown();
    const res = await fetch(`${http.url}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: 'draining',
      error: { code: 'SHUTTING_DOWN' },
    });
    hold.release();
    expect(await stuck).toBe('status 200');
    await done;
  });

  test('a hook that fails or hangs does not stop the shutdown', async () => {
    const { manager, http, shutdown, exit } = await startNode({ hookTimeoutMs: 30 });
    await using _ = http;
    shutdown.onShutdown(() => {
      throw new Error('hook broke');
    });
    shutdown.onShutdown(() => new Promise<void>(() => {}));
    const removed = vi.fn();
    shutdown.onShutdown(removed)();
    await shutdown.shutdown({ exitWhenDone: true });
    expect(removed).not.toHaveBeenCalled();
    expect(manager.stopping).toBe(true);
    expect(exit).toHaveBeenCalledWith(0);
  });

  test('the signal handler starts the shutdown; a second signal exits 1 at once', async () => {
    const { manager, hold, http, shutdown, exit } = await startNode();
    await using _ = http;
    const stuck = freshRequest(http.url, '/hold');
    await hold.arrived(1);
    const uninstall = shutdown.installSignalHandlers(['SIGUSR2']);
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(shutdown.draining).toBe(true);
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(exit).toHaveBeenCalledWith(1);
    } finally {
      uninstall();
    }
    expect(process.listenerCount('SIGUSR2')).toBe(0);
    hold.release();
    expect(await stuck).toBe('status 200');
    await shutdown.shutdown();
    expect(manager.stopping).toBe(true);
    expect(exit).toHaveBeenLastCalledWith(0);
  });
});
