import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import { createTestApp } from '../testing/express-app.js';
import { startHttpServer } from '../testing/http-server.js';
import { spyStore } from '../testing/spy-store.js';

/** vi.waitFor's default 1 s is short on a busy machine; what is awaited takes milliseconds. */
const WAIT = { timeout: 10_000 };

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

function newManager(options: SessionManagerOptions = {}): SessionManager {
  const manager = new SessionManager(options).start();
  managers.push(manager);
  return manager;
}

function get(url: string, sessionId?: string): Promise<Response> {
  return fetch(url, sessionId === undefined ? {} : { headers: { 'X-Session-Id': sessionId } });
}

/** Status of a GET whose request target is exactly `target` (such as an absolute-form URL). */
function statusOfTarget(port: number, target: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

async function expectShed(res: Response, retryAfter = '1'): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe(retryAfter);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await res.json()).toEqual({
    error: { code: 'SERVER_AT_CAPACITY', message: expect.any(String) },
  });
}

describe('node-wide capacity', () => {
  test('past maxConcurrentRequests: 503 with Retry-After, no store work, no body read; then released', async () => {
    const store = spyStore();
    const manager = newManager({ store, maxConcurrentRequests: 2 });
    const session = await manager.createSession();
    const testApp = createTestApp(manager);
    await using http = await startHttpServer(testApp.app);

    const held = [get(`${http.url}/hold`, session.sessionId), get(`${http.url}/hold`)];
    await testApp.hold.arrived(2);
    expect(manager.capacity.inFlight).toBe(2);
    const storeCalls = store.totalCalls();
    const handled = testApp.handled;

    await expectShed(await get(`${http.url}/hello`, session.sessionId));
    await expectShed(await get(`${http.url}/hello`));
    const post = await fetch(`${http.url}/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Session-Id': session.sessionId },
      body: JSON.stringify({ big: 'x'.repeat(4096) }),
    });
    await expectShed(post);
    expect(store.totalCalls()).toBe(storeCalls);
    expect(testApp.handled).toBe(handled);
    expect(manager.capacity.shedCount).toBe(3);

    testApp.hold.release();
    expect((await Promise.all(held)).map((res) => res.status)).toEqual([200, 200]);
    await vi.waitFor(() => expect(manager.capacity.inFlight).toBe(0), WAIT);
    const again = await get(`${http.url}/hello`, session.sessionId);
    expect(again.status).toBe(200);
    expect((await manager.getMetrics()).totalRequestsShed).toBe(3);
  });

  test('/health, /ready and /metrics still answer at capacity', async () => {
    const manager = newManager({ maxConcurrentRequests: 1 });
    const { app, hold } = createTestApp(manager);
    await using http = await startHttpServer(app);
    const held = get(`${http.url}/hold`);
    await hold.arrived(1);
    await expectShed(await get(`${http.url}/hello`));

    const health = await get(`${http.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', activeRequests: 0 });
    expect((await get(`${http.url}/ready`)).status).toBe(200);
    // The path is matched without its query, and in an absolute-form target too.
    expect((await get(`${http.url}/health?probe=1`)).status).toBe(200);
    expect(await statusOfTarget(http.port, `http://127.0.0.1:${http.port}/ready?x=1`)).toBe(200);
    expect(await statusOfTarget(http.port, `http://127.0.0.1:${http.port}/hello`)).toBe(503);
    const metrics = await get(`${http.url}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/^morgan_requests_in_flight 1$/m);
    expect(text).toMatch(/^morgan_requests_shed_total 2$/m);
    expect(manager.capacity.shedCount).toBe(2);

    hold.release();
    expect((await held).status).toBe(200);
  });

  test('retryAfterSeconds sets the Retry-After header', async () => {
    const manager = newManager({ maxConcurrentRequests: 1 });
    const { app, hold } = createTestApp(manager, { retryAfterSeconds: 7 });
    await using http = await startHttpServer(app);
    const held = get(`${http.url}/hold`);
    await hold.arrived(1);
    await expectShed(await get(`${http.url}/hello`), '7');
    hold.release();
    await held;
  });
});

describe('bounded wait queue', () => {
  test('a queued request is admitted when a slot frees; past the queue bound it is shed at once', async () => {
    const manager = newManager({
      maxConcurrentRequests: 1,
      maxQueuedRequests: 1,
      maxQueueWaitMs: 10_000,
    });
    const testApp = createTestApp(manager);
    await using http = await startHttpServer(testApp.app);

    const first = get(`${http.url}/hold`);
    await testApp.hold.arrived(1);
    const queued = get(`${http.url}/hello`);
    await vi.waitFor(() => expect(manager.capacity.queued).toBe(1), WAIT);
    expect(testApp.handled).toBe(1);

    await expectShed(await get(`${http.url}/hello`));
    testApp.hold.release();
    expect((await first).status).toBe(200);
    expect((await queued).status).toBe(200);
    expect(testApp.handled).toBe(2);
    await vi.waitFor(() => expect(manager.capacity.inFlight).toBe(0), WAIT);
    expect(manager.capacity.shedCount).toBe(1);
  });

  test('a request that waits longer than maxQueueWaitMs is shed', async () => {
    const manager = newManager({
      maxConcurrentRequests: 1,
      maxQueuedRequests: 5,
      maxQueueWaitMs: 30,
    });
    const testApp = createTestApp(manager);
    await using http = await startHttpServer(testApp.app);
    const first = get(`${http.url}/hold`);
    await testApp.hold.arrived(1);

    await expectShed(await get(`${http.url}/hello`));
    expect(manager.capacity.queued).toBe(0);
    testApp.hold.release();
    expect((await first).status).toBe(200);
  });

  test('a queued client that goes away gives its slot back as soon as it is granted', async () => {
    const manager = newManager({
      maxConcurrentRequests: 1,
      maxQueuedRequests: 1,
      maxQueueWaitMs: 10_000,
    });
    const testApp = createTestApp(manager);
    await using http = await startHttpServer(testApp.app);
    const first = get(`${http.url}/hold`);
    await testApp.hold.arrived(1);

    const { hostname, port } = new URL(http.url);
    const gone = httpRequest({ hostname, port, path: '/hello', agent: false });
    gone.on('error', () => {});
    gone.end();
    await vi.waitFor(() => expect(manager.capacity.queued).toBe(1), WAIT);
    gone.destroy();
    const connections = () =>
      new Promise<number>((resolve) =>
        http.server.getConnections((_error, count) => resolve(count)),
      );
    await vi.waitFor(async () => expect(await connections()).toBe(1), WAIT);

    testApp.hold.release();
    expect((await first).status).toBe(200);
    await vi.waitFor(() => expect(manager.capacity.inFlight).toBe(0), WAIT);
    expect(manager.capacity.queued).toBe(0);
    expect((await get(`${http.url}/hello`)).status).toBe(200);
    expect(testApp.handled).toBe(2);
  });
});
