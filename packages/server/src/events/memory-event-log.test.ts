import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { compareEventIds, eventLogDefaults, type SessionEvent } from './event-log.js';
import { MemoryEventLog } from './memory-event-log.js';

const A = 'session-a';
const B = 'session-b';

function clock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('MemoryEventLog', () => {
  it('documents 100 events and 5 minutes as defaults', () => {
    const log = new MemoryEventLog();
    expect(eventLogDefaults).toMatchObject({ maxEvents: 100, maxAgeMs: 300_000 });
    expect(log.maxEvents).toBe(100);
    expect(log.maxAgeMs).toBe(300_000);
  });

  it('gives increasing ids per session, also within one millisecond and when the clock goes back', async () => {
    const time = clock();
    const log = new MemoryEventLog({ now: time.now });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await log.append(A, 'tick', i)).id);
    time.advance(-1_000);
    ids.push((await log.append(A, 'tick', 5)).id);
    time.advance(5_000);
    ids.push((await log.append(A, 'tick', 6)).id);
    for (let i = 1; i < ids.length; i += 1) {
      expect(compareEventIds(ids[i - 1] as string, ids[i] as string)).toBeLessThan(0);
    }
  });

  it('replays what came after the last id, oldest first', async () => {
    const log = new MemoryEventLog();
    const first = await log.append(A, 'm', { n: 1 });
    await log.append(A, 'm', { n: 2 });
    await log.append(B, 'm', { n: 'other' });
    await log.append(A, 'm', { n: 3 });
    const { events, gap } = await log.readAfter(A, first.id);
    expect(gap).toBe(false);
    expect(events.map((event) => event.data)).toEqual([{ n: 2 }, { n: 3 }]);
    const all = await log.readAfter(A);
    expect(all.events).toHaveLength(3);
  });

  it('reports a gap once more events than maxEvents came after the last id', async () => {
    const log = new MemoryEventLog({ maxEvents: 3 });
    const seen = await log.append(A, 'm', 0);
    const appended: SessionEvent[] = [];
    for (let i = 1; i <= 4; i += 1) appended.push(await log.append(A, 'm', i));
    const result = await log.readAfter(A, seen.id);
    expect(result.gap).toBe(true);
    expect(result.lostThroughId).toBe(appended[0]?.id);
    expect(result.events.map((event) => event.data)).toEqual([2, 3, 4]);
    // Resuming after the lost id is exact again.
    const resumed = await log.readAfter(A, result.lostThroughId);
    expect(resumed.gap).toBe(false);
    expect(resumed.events).toHaveLength(3);
  });

  it('drops events older than maxAgeMs and reports the gap', async () => {
    const time = clock();
    const log = new MemoryEventLog({ maxAgeMs: 1_000, now: time.now });
    const seen = await log.append(A, 'm', 'seen');
    await log.append(A, 'm', 'missed');
    time.advance(1_001);
    const kept = await log.append(A, 'm', 'kept');
    const result = await log.readAfter(A, seen.id);
    expect(result.gap).toBe(true);
    expect(result.events.map((event) => event.id)).toEqual([kept.id]);
  });

  it('reports no gap when the reader had seen every event that aged out', async () => {
    const time = clock();
    const log = new MemoryEventLog({ maxAgeMs: 1_000, now: time.now });
    const last = await log.append(A, 'm', 'last');
    time.advance(5_000);
    expect(await log.readAfter(A, last.id)).toEqual({ events: [], gap: false });
  });

  it('reports a gap for an id it never gave or cannot parse', async () => {
    const time = clock();
    const log = new MemoryEventLog({ now: time.now });
    expect((await log.readAfter(A, '1-0')).gap).toBe(true);
    expect(await log.readAfter(A)).toEqual({ events: [], gap: false });
    await log.append(A, 'm', 1);
    expect((await log.readAfter(A, '1-0')).gap).toBe(true);
    expect((await log.readAfter(A, 'not-an-id')).gap).toBe(true);
  });

  it('delivers live events to subscribers of that session only, as copies', async () => {
    const log = new MemoryEventLog();
    const got: SessionEvent[] = [];
    const other: SessionEvent[] = [];
    const unsubscribe = log.subscribe(A, (event) => got.push(event));
    log.subscribe(A, () => {
      throw new Error('a bad listener');
    });
    log.subscribe(B, (event) => other.push(event));
    const data = { list: [1] };
    await log.append(A, 'm', data);
    data.list.push(2);
    (got[0]!.data as { list: number[] }).list.push(3);
    expect((await log.readAfter(A)).events[0]?.data).toEqual({ list: [1] });
    unsubscribe();
    await log.append(A, 'm', 'after');
    expect(got).toHaveLength(1);
    expect(other).toHaveLength(0);
  });

  it('forgets a dropped session and ends its subscriptions, so a reader that comes back learns of the gap', async () => {
    const log = new MemoryEventLog();
    let ended = 0;
    log.subscribe(
      A,
      () => undefined,
      () => {
        ended += 1;
      },
    );
    log.subscribe(
      B,
      () => undefined,
      () => {
        ended += 10;
      },
    );
    const event = await log.append(A, 'm', 1);
    await log.append(B, 'm', 1);
    await log.drop(A);
    expect(ended).toBe(1);
    expect(log.subscriberCount).toBe(1);
    expect(log.size).toBe(1);
    expect(await log.readAfter(A, event.id)).toEqual({ events: [], gap: true });
    await log.close();
    expect(log.size).toBe(0);
  });

  it('rejects the reserved gap type, bad types, non-JSON and oversize data', async () => {
    const log = new MemoryEventLog({ maxEventBytes: 16 });
    await expect(log.append(A, 'gap', 1)).rejects.toMatchObject({
      code: ErrorCode.INVALID_REQUEST,
    });
    await expect(log.append(A, '', 1)).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(log.append(A, 'm', cyclic as never)).rejects.toMatchObject({
      code: ErrorCode.INVALID_REQUEST,
    });
    await expect(log.append(A, 'm', 'x'.repeat(20))).rejects.toMatchObject({
      code: ErrorCode.PAYLOAD_TOO_LARGE,
    });
    expect(log.size).toBe(0);
  });

  it('replays exactly the events after any id it gave, with a gap exactly when some were dropped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }),
        fc.nat(),
        async (maxEvents, gaps, pick) => {
          const time = clock();
          const log = new MemoryEventLog({ maxEvents, now: time.now });
          const ids: string[] = [];
          for (const step of gaps) {
            time.advance(step);
            ids.push((await log.append(A, 'm', ids.length)).id);
          }
          const index = pick % ids.length;
          const result = await log.readAfter(A, ids[index]);
          const after = ids.slice(index + 1);
          const kept = after.slice(Math.max(0, after.length - maxEvents));
          expect(result.events.map((event) => event.id)).toEqual(kept);
          expect(result.gap).toBe(kept.length < after.length);
        },
      ),
    );
  });
});
