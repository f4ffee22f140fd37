import { describe, expect, it, vi } from 'vitest';
import { rotatedSessionId, rotationAwareFetch } from './rotation.js';

const OLD = '11111111-1111-4111-8111-111111111111';
const NEW = '22222222-2222-4222-8222-222222222222';

function answer(headers: Record<string, string> = {}): Response {
  return new Response('{}', { headers });
}

describe('rotation by response header', () => {
  it('names the new id only when the answer’s X-Session-Id differs from the one sent', () => {
    expect(rotatedSessionId(OLD, answer({ 'X-Session-Id': NEW }))).toBe(NEW);
    expect(rotatedSessionId(OLD, answer({ 'x-session-id': OLD }))).toBeUndefined();
    expect(rotatedSessionId(OLD, answer())).toBeUndefined();
    expect(rotatedSessionId(undefined, answer({ 'X-Session-Id': NEW }))).toBeUndefined();
    expect(rotatedSessionId(null, answer({ 'X-Session-Id': NEW }))).toBeUndefined();
  });

  it('reports a rotation from the fetch given to tRPC’s HTTP links, before the caller reads the answer', async () => {
    const rotate = vi.fn();
    const fetch = rotationAwareFetch(async () => answer({ 'X-Session-Id': NEW }), rotate);
    const response = await fetch('http://x/trpc/a', { headers: { 'X-Session-Id': OLD } });
    expect(rotate).toHaveBeenCalledExactlyOnceWith(OLD, NEW);
    expect(await response.json()).toEqual({});

    await fetch(new Request('http://x/trpc/a', { headers: { 'x-session-id': OLD } }));
    expect(rotate).toHaveBeenCalledTimes(2);
    await fetch('http://x/trpc/session.create', { headers: {} });
    expect(rotate).toHaveBeenCalledTimes(2);
  });
});
