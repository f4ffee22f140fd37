import type { Response } from 'express';
import { afterEach, describe, expect, test } from 'vitest';
import { SessionManager } from '../manager.js';
import { type InFlightRequest, RotationNotices } from './rotations.js';

const managers: SessionManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((manager) => manager.stop({ drainTimeoutMs: 0 })));
});

/** A listed request whose response records the headers set on it. */
function inFlight(sessionId: string, headersSent = false) {
  const headers = new Map<string, string>();
  const response = {
    headersSent,
    setHeader: (name: string, value: string) => headers.set(name, value),
  } as unknown as Response;
  const request: InFlightRequest = {
    previousInFlight: undefined,
    nextInFlight: undefined,
    sessionId,
    response,
  };
  return { request, headers };
}

async function setUp() {
  const manager = new SessionManager().start();
  managers.push(manager);
  const notices = new RotationNotices();
  notices.listen(manager);
  const a = await manager.createSession();
  const b = await manager.createSession();
  return { manager, notices, a, b };
}

describe('RotationNotices', () => {
  test('a rotation names the new id on every listed request of that session, and only those', async () => {
    const { manager, notices, a, b } = await setUp();
    const first = inFlight(a.sessionId);
    const other = inFlight(b.sessionId);
    const second = inFlight(a.sessionId);
    const answered = inFlight(a.sessionId, true);
    for (const entry of [first, other, second, answered]) notices.add(entry.request);

    const rotated = await manager.rotateSession(a.sessionId);
    expect(first.headers.get('X-Session-Id')).toBe(rotated.sessionId);
    expect(second.headers.get('X-Session-Id')).toBe(rotated.sessionId);
    expect(other.headers.size).toBe(0);
    // Its headers were sent already: nothing can be added.
    expect(answered.headers.size).toBe(0);
  });

  test('a removed request is no longer told, whether it was first, in the middle or last', async () => {
    const { manager, notices, a } = await setUp();
    const entries = Array.from({ length: 5 }, () => inFlight(a.sessionId));
    for (const entry of entries) notices.add(entry.request);
    // Listed newest first: entries[4] is first, entries[0] last.
    const removed = [entries[4], entries[2], entries[0]];
    for (const entry of removed) notices.remove(entry?.request as InFlightRequest);
    // Removing one twice, or one never added, changes nothing.
    notices.remove(entries[2]?.request as InFlightRequest);
    notices.remove(inFlight(a.sessionId).request);

    const rotated = await manager.rotateSession(a.sessionId);
    expect(entries.map((entry) => entry.headers.get('X-Session-Id'))).toEqual([
      undefined,
      rotated.sessionId,
      undefined,
      rotated.sessionId,
      undefined,
    ]);
    for (const entry of entries) notices.remove(entry.request);
    const again = await manager.rotateSession(rotated.sessionId);
    expect(entries.some((entry) => entry.headers.get('X-Session-Id') === again.sessionId)).toBe(
      false,
    );
  });
});
