import { describe, expect, it } from 'vitest';
import { ErrorCode, MorganError } from './errors.js';
import { SessionManager } from './manager.js';
import { MemoryStore } from './store/memory.js';
import type { Store } from './store/store.js';

describe('SessionManager.listSessions', () => {
  it('lists snapshots of every live session, most recently active first', async () => {
    let now = 1_700_000_000_000;
    const manager = new SessionManager({ sessionTimeoutMs: 1000, now: () => now });
    const a = await manager.createSession({ userId: 'alice', conversationId: 'c1' });
    now += 10;
    const b = await manager.createSession({ userId: 'bob' });
    now += 10;
    const c = await manager.createSession();
    now += 10;
    await manager.touch(a.sessionId);
    await manager.deleteSession(b.sessionId);
    const listed = await manager.listSessions();
    expect(listed.map((s) => s.sessionId)).toEqual([a.sessionId, c.sessionId]);
    expect(listed[0]).toMatchObject({ userId: 'alice', conversationId: 'c1' });
    (listed[0]!.activeRequests as string[]).push('tampered');
    expect((await manager.getSession(a.sessionId))?.activeRequests).toEqual([]);
    expect(await manager.listSessions(1)).toHaveLength(1);
    await manager.stop();
  });

  it('reports a store that cannot list', async () => {
    const store: Store = new MemoryStore();
    Object.defineProperty(store, 'list', { value: undefined });
    const manager = new SessionManager({ store });
    const error = await manager.listSessions().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MorganError);
    expect((error as MorganError).code).toBe(ErrorCode.INTERNAL_ERROR);
    await manager.stop();
  });
});
