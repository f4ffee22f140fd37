import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from './storage.js';
import { recordedClient } from './testing/client.js';
import { startTestServer } from './testing/server.js';

describe('session lifecycle against a real server', () => {
  it('creates a session on first connect, with userId and metadata, and goes idle → connecting → connected', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server, {
      userId: 'alice',
      conversationId: 'c-42',
      metadata: { plan: 'pro' },
    });
    const session = await rec.client.connect();
    expect(rec.client.state).toBe('connected');
    expect(rec.client.sessionId).toBe(session.sessionId);
    expect(rec.states).toEqual(['idle', 'connecting', 'connected']);
    const stored = await server.manager.getSession(session.sessionId);
    expect(stored).toMatchObject({
      userId: 'alice',
      conversationId: 'c-42',
      metadata: { plan: 'pro' },
    });
    expect(rec.log.session).toHaveLength(1);
    expect(rec.log['session-replaced']).toHaveLength(0);
    await rec.until(() => server.socketCount === 1, 'the socket to be counted');
    expect((await server.manager.getSession(session.sessionId))?.connectionCount).toBe(1);
  });

  it('attaches the session to typed tRPC calls and to plain fetch', async () => {
    await using server = await startTestServer();
    await using rec = recordedClient(server);
    const { sessionId } = await rec.client.connect();
    expect(await rec.client.trpc.test.whoami.query()).toBe(sessionId);
    const response = await rec.client.fetch('/api/whoami');
    expect(await response.json()).toEqual({ sessionId });
  });

  it('resumes the stored id instead of creating a session', async () => {
    await using server = await startTestServer();
    const storage = createMemoryStorage();
    const first = recordedClient(server, { storage });
    const { sessionId } = await first.client.connect();
    await first.client.close();
    await using second = recordedClient(server, { storage });
    const resumed = await second.client.connect();
    expect(resumed.sessionId).toBe(sessionId);
    expect(second.log['session-replaced']).toHaveLength(0);
    expect((await server.manager.getMetrics()).totalSessionsCreated).toBe(1);
  });

  it('replaces a stored id the server does not know and announces it', async () => {
    await using server = await startTestServer();
    const storage = createMemoryStorage();
    const stale = '3f1b8d9e-0c4a-4f5e-9a2b-7c6d5e4f3a2b';
    storage.setItem('morgan.sessionId', stale);
    await using rec = recordedClient(server, { storage });
    const session = await rec.client.connect();
    expect(session.sessionId).not.toBe(stale);
    expect(rec.log['session-replaced']).toEqual([
      [{ previousSessionId: stale, sessionId: session.sessionId, reason: 'not-found' }],
    ]);
    expect(storage.getItem('morgan.sessionId')).toBe(session.sessionId);
  });

  it('replaces a malformed stored id', async () => {
    await using server = await startTestServer();
    const storage = createMemoryStorage();
    storage.setItem('morgan.sessionId', 'not-a-uuid');
    await using rec = recordedClient(server, { storage });
    const session = await rec.client.connect();
    expect(rec.log['session-replaced'][0]?.[0]).toMatchObject({
      previousSessionId: 'not-a-uuid',
      sessionId: session.sessionId,
      reason: 'invalid',
    });
  });

  it('shares one session between clients of the same storage (tabs with localStorage)', async () => {
    await using server = await startTestServer();
    const shared = createMemoryStorage();
    await using tabA = recordedClient(server, { storage: shared });
    const a = await tabA.client.connect();
    await using tabB = recordedClient(server, { storage: shared });
    const b = await tabB.client.connect();
    expect(b.sessionId).toBe(a.sessionId);
    await tabB.until(() => server.socketCount === 2, 'both sockets');
    expect((await server.manager.getSession(a.sessionId))?.connectionCount).toBe(2);
  });

  it('close() keeps the session; close({ endSession }) deletes it and forgets the id', async () => {
    await using server = await startTestServer();
    const storage = createMemoryStorage();
    const keep = recordedClient(server, { storage });
    const kept = await keep.client.connect();
    await keep.client.close();
    expect(keep.client.state).toBe('closed');
    expect(keep.states.at(-1)).toBe('closed');
    expect(await server.manager.getSession(kept.sessionId)).toBeDefined();
    expect(storage.getItem('morgan.sessionId')).toBe(kept.sessionId);

    const end = recordedClient(server, { storage });
    await end.client.connect();
    await end.client.close({ endSession: true });
    expect(await server.manager.getSession(kept.sessionId)).toBeUndefined();
    expect(storage.getItem('morgan.sessionId')).toBeNull();
    await expect(end.client.connect()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('sends heartbeats at a third of the server timeout and reports their round trip', async () => {
    // 9 s: a beat every 3 s, so a beat a busy machine delays by seconds still lands in time.
    await using server = await startTestServer({ manager: { sessionTimeoutMs: 9_000 } });
    await using rec = recordedClient(server, { heartbeatIntervalMs: 60_000 });
    const { sessionId } = await rec.client.connect();
    await rec.until(() => rec.log.heartbeat.length >= 2, 'two heartbeats');
    const [report] = rec.log.heartbeat[1] ?? [];
    expect(report?.intervalMs).toBe(3_000);
    expect(report?.sessionTimeoutMs).toBe(9_000);
    expect(report?.rttMs).toBeGreaterThanOrEqual(0);
    expect(report?.expiresAt.getTime()).toBe((report?.lastActivity.getTime() ?? 0) + 9_000);
    expect(await server.manager.getSession(sessionId)).toBeDefined();
  });
});
