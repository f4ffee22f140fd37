import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { SessionManager } from '../manager.js';
import { BusStore } from '../testing/bus-store.js';
import { MemoryEventLog } from './memory-event-log.js';

describe('SessionManager.publish and the event log', () => {
  it('appends to a live session and refuses an unknown one', async () => {
    const eventLog = new MemoryEventLog();
    const manager = new SessionManager({ eventLog });
    const session = await manager.createSession();
    const event = await manager.publish(session.sessionId, 'chat.reply', { reply: 'hi' });
    expect(event).toMatchObject({ type: 'chat.reply', data: { reply: 'hi' } });
    expect((await eventLog.readAfter(session.sessionId)).events).toEqual([event]);
    await expect(
      manager.publish('9b2f1f64-5f0c-4b8e-9d53-5a8f1f0c1d2e', 'chat.reply', {}),
    ).rejects.toMatchObject({ code: ErrorCode.SESSION_NOT_FOUND });
    await manager.stop();
  });

  it('drops the stream of a session that is deleted, expires, or ends on another node', async () => {
    let now = 1_000_000;
    const store = new BusStore();
    const eventLog = new MemoryEventLog({ now: () => now });
    const manager = new SessionManager({
      eventLog,
      store,
      sessionTimeoutMs: 1_000,
      now: () => now,
    });
    manager.start();
    const deleted = await manager.createSession();
    const expired = await manager.createSession();
    const remote = await manager.createSession();
    for (const { sessionId } of [deleted, expired, remote])
      await manager.publish(sessionId, 'm', 1);
    expect(eventLog.size).toBe(3);
    await manager.deleteSession(deleted.sessionId);
    expect(eventLog.size).toBe(2);
    store.announce({ type: 'deleted', sessionId: remote.sessionId });
    await new Promise((resolve) => setImmediate(resolve));
    expect(eventLog.size).toBe(1);
    now += 2_000;
    await manager.cleanup();
    expect(eventLog.size).toBe(0);
    await manager.stop();
  });

  it('closes the event log in stop()', async () => {
    const eventLog = new MemoryEventLog();
    const manager = new SessionManager({ eventLog });
    const session = await manager.createSession();
    await manager.publish(session.sessionId, 'm', 1);
    await manager.stop();
    expect(eventLog.size).toBe(0);
  });
});
