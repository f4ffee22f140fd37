import { describe, expect, it, vi } from 'vitest';
import type { SessionInfo } from './protocol.js';
import type { SessionApi } from './session-api.js';
import { SessionKeeper, type SessionKeeperHooks } from './session-keeper.js';
import { createMemoryStorage, openSessionIdStore } from './storage.js';

const OLD = '11111111-1111-4111-8111-111111111111';
const NEW = '22222222-2222-4222-8222-222222222222';

function session(sessionId: string): SessionInfo {
  return {
    sessionId,
    createdAt: new Date(0),
    lastActivity: new Date(0),
    metadata: {},
    connectionCount: 1,
    activeRequests: [],
  } as unknown as SessionInfo;
}

async function resumed(
  socketSession: () => Promise<SessionInfo | undefined> = async () => undefined,
) {
  const storage = createMemoryStorage();
  storage.setItem('key', OLD);
  const api = {
    get: vi.fn(async (id: string) => session(id)),
    create: vi.fn(async () => session('44444444-4444-4444-8444-444444444444')),
  };
  const hooks: SessionKeeperHooks = {
    onSession: vi.fn(),
    onReplaced: vi.fn(),
    onRotated: vi.fn(),
    socketSession,
    closed: () => false,
  };
  const keeper = new SessionKeeper(
    api as unknown as SessionApi,
    openSessionIdStore(storage, 'key'),
    {},
    hooks,
  );
  await keeper.ensure();
  vi.mocked(hooks.onSession).mockClear();
  return { keeper, hooks, storage, api };
}

describe('SessionKeeper.rotate', () => {
  it('adopts the new id at once, stores it, announces it once, then reports the session', async () => {
    const { keeper, hooks, storage, api } = await resumed();
    expect(keeper.rotate(OLD, NEW)).toBe(true);
    expect(keeper.id).toBe(NEW);
    expect(keeper.session?.sessionId).toBe(NEW);
    expect(storage.getItem('key')).toBe(NEW);
    expect(hooks.onRotated).toHaveBeenCalledExactlyOnceWith({
      previousSessionId: OLD,
      sessionId: NEW,
    });
    await vi.waitFor(() => expect(hooks.onSession).toHaveBeenCalledOnce(), { timeout: 10_000 });
    expect(api.get).toHaveBeenLastCalledWith(NEW);

    // The same rotation seen again (header and stream notice): nothing more.
    expect(keeper.rotate(OLD, NEW)).toBe(false);
    expect(keeper.rotate(NEW, NEW)).toBe(false);
    expect(hooks.onRotated).toHaveBeenCalledOnce();
  });

  it('ignores a rotation of an id the client no longer uses, or none', async () => {
    const { keeper, hooks } = await resumed();
    expect(keeper.rotate('33333333-3333-4333-8333-333333333333', NEW)).toBe(false);
    expect(keeper.rotate(undefined, NEW)).toBe(false);
    expect(keeper.id).toBe(OLD);
    expect(hooks.onRotated).not.toHaveBeenCalled();
  });

  it('takes a lost id’s replacement from the socket when the server moved it: a rotation, not a new session', async () => {
    const { keeper, hooks, api } = await resumed(async () => session(NEW));
    expect(await keeper.replace(OLD, 'not-found')).toBe(true);
    expect(keeper.id).toBe(NEW);
    expect(hooks.onRotated).toHaveBeenCalledExactlyOnceWith({
      previousSessionId: OLD,
      sessionId: NEW,
    });
    expect(hooks.onReplaced).not.toHaveBeenCalled();
    expect(hooks.onSession).toHaveBeenCalledExactlyOnceWith(session(NEW));
    expect(api.create).not.toHaveBeenCalled();
  });

  it('creates a session when the socket is still on the lost id, or has none', async () => {
    const { keeper, hooks, api } = await resumed(async () => session(OLD));
    expect(await keeper.replace(OLD, 'not-found')).toBe(true);
    expect(api.create).toHaveBeenCalledOnce();
    expect(hooks.onRotated).not.toHaveBeenCalled();
    expect(hooks.onReplaced).toHaveBeenCalledOnce();
  });
});
