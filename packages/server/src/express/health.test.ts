import express from 'express';
import { afterEach, describe, expect, test } from 'vitest';
import { SessionManager, type SessionManagerOptions } from '../manager.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { coreOnly } from '../testing/core-only-store.js';
import { startHttpServer } from '../testing/http-server.js';
import { spyStore } from '../testing/spy-store.js';
import { type HealthRoutesOptions, healthRoutes } from './health.js';
import { MorganMetrics } from './metrics.js';
import { sessionMiddleware } from './session-middleware.js';

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

function newManager(options: SessionManagerOptions = {}): SessionManager {
  const manager = new SessionManager(options).on('warning', () => {}).start();
  managers.push(manager);
  return manager;
}

function createApp(manager: SessionManager, options: HealthRoutesOptions = {}) {
  const app = express();
  app.use(healthRoutes(manager, options));
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'ROUTE_NOT_FOUND', message: 'none' } });
  });
  return app;
}

const never = <T>() => new Promise<T>(() => {});

describe('/health', () => {
  test('answers 200 with status, sessions, requests, uptime and store', async () => {
    const manager = newManager();
    await manager.createSession();
    await manager.createSession();
    await using http = await startHttpServer(createApp(manager));
    const res = await fetch(`${http.url}/health`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({
      status: 'ok',
      activeSessions: 2,
      activeRequests: 0,
      uptimeSeconds: expect.any(Number),
      store: 'memory',
      storeFallbacks: [],
    });
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  test('names the store capabilities this node runs on its own', async () => {
    const manager = newManager({ store: coreOnly(new MemoryStore()) });
    await using http = await startHttpServer(createApp(manager));
    const res = await fetch(`${http.url}/health`);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      store: 'memory',
      storeFallbacks: ['idempotency', 'rateLimits', 'listing', 'events'],
    });
  });

  test('stays 200 but reports degraded when the store does not answer', async () => {
    const manager = newManager({ store: spyStore({ count: () => never }) });
    await using http = await startHttpServer(createApp(manager, { storeTimeoutMs: 20 }));
    const res = await fetch(`${http.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'degraded', activeSessions: null });
  });
});

describe('/ready', () => {
  test('200 while serving, 503 SHUTTING_DOWN while draining', async () => {
    let draining = false;
    const manager = newManager();
    await using http = await startHttpServer(createApp(manager, { isDraining: () => draining }));
    const ready = await fetch(`${http.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    draining = true;
    const res = await fetch(`${http.url}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'draining',
      error: { code: 'SHUTTING_DOWN', message: expect.any(String) },
    });
  });

  test('503 STORE_UNAVAILABLE when ping fails or does not answer in time', async () => {
    for (const ping of [() => Promise.reject(new Error('ECONNREFUSED')), () => never<void>()]) {
      const store: Store = spyStore({ ping: () => ping });
      const manager = newManager({ store });
      await using http = await startHttpServer(createApp(manager, { storeTimeoutMs: 20 }));
      const res = await fetch(`${http.url}/ready`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'STORE_UNAVAILABLE' } });
    }
  });

  test('defaults to not ready once the manager is stopping', async () => {
    const manager = newManager();
    await using http = await startHttpServer(createApp(manager));
    await manager.stop({ drainTimeoutMs: 0 });
    expect((await fetch(`${http.url}/ready`)).status).toBe(503);
  });

  test('only GET and HEAD are answered; other methods fall through', async () => {
    const manager = newManager();
    await using http = await startHttpServer(createApp(manager));
    expect((await fetch(`${http.url}/ready`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${http.url}/ready`, { method: 'POST' })).status).toBe(404);
  });
});

describe('/metrics', () => {
  test('Prometheus text with session counters, requests and durations', async () => {
    let clock = 0;
    const manager = newManager({
      now: () => clock,
      sessionTimeoutMs: 60_000,
      maxConcurrentRequests: 7,
    });
    const metrics = new MorganMetrics(manager);
    const app = express();
    app.use(metrics.requestTimer());
    app.use(sessionMiddleware(manager));
    app.use(healthRoutes(manager, { metrics }));
    app.get('/hello', (_req, res) => {
      res.send('hi');
    });
    await using http = await startHttpServer(app);

    const [a, b] = await Promise.all([manager.createSession(), manager.createSession()]);
    await manager.createSession();
    await manager.deleteSession(a.sessionId);
    clock += 30_000;
    await manager.touch(b.sessionId);
    clock += 40_000; // the third session expires, b does not
    await fetch(`${http.url}/hello`, { headers: { 'X-Session-Id': b.sessionId } });
    await fetch(`${http.url}/hello`);

    const res = await fetch(`${http.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (name: string) => {
      const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return match ? Number(match[1]) : undefined;
    };
    expect(value('morgan_sessions_active')).toBe(1);
    expect(value('morgan_sessions_created_total')).toBe(3);
    expect(value('morgan_sessions_deleted_total')).toBe(1);
    expect(value('morgan_sessions_expired_total')).toBe(1);
    expect(value('morgan_requests_shed_total')).toBe(0);
    expect(value('morgan_requests_in_flight')).toBe(0);
    expect(value('morgan_session_requests_active')).toBe(0);
    expect(value('morgan_requests_max_concurrent')).toBe(7);
    expect(text).toMatch(/^morgan_http_request_duration_seconds_count\{status="200"\} 2$/m);
    expect(text).toMatch(/^# TYPE morgan_sessions_created_total counter$/m);
    expect(text).toMatch(/^morgan_process_cpu_user_seconds_total /m);
  });

  test('two servers in one process keep separate registries', async () => {
    const first = newManager();
    const second = newManager();
    await first.createSession();
    await using one = await startHttpServer(createApp(first));
    await using two = await startHttpServer(createApp(second));
    const [textOne, textTwo] = await Promise.all([
      fetch(`${one.url}/metrics`).then((res) => res.text()),
      fetch(`${two.url}/metrics`).then((res) => res.text()),
    ]);
    expect(textOne).toMatch(/^morgan_sessions_created_total 1$/m);
    expect(textTwo).toMatch(/^morgan_sessions_created_total 0$/m);
  });

  test('metricsPath false leaves /metrics to the app', async () => {
    const manager = newManager();
    await using http = await startHttpServer(createApp(manager, { metricsPath: false }));
    expect((await fetch(`${http.url}/metrics`)).status).toBe(404);
  });
});
