import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import {
  compareEventIds,
  type EventLog,
  type EventLogOptions,
  GAP_EVENT_TYPE,
  type SessionEvent,
} from './event-log.js';
import { streamSessionEvents } from './stream.js';

/** Builds a fresh log with the given options (a shared backing service is fine). */
export type CreateEventLog = (options: EventLogOptions) => EventLog | Promise<EventLog>;

/** A clock the test moves by hand; starts at the real time. */
function clock() {
  let now = Date.now();
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** Waits until `check()` holds, polling every 5 ms for at most 5 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The rules of `EventLog` as tests that run unchanged against every
 * implementation. Session ids are random, so logs sharing a backing service
 * do not see each other's events. Live delivery may be asynchronous: tests
 * subscribe, then `readAfter` (as `streamSessionEvents` does) before relying
 * on it, and wait for deliveries.
 *
 * @example
 * describeEventLogConformance('MemoryEventLog', (options) => new MemoryEventLog(options));
 */
export function describeEventLogConformance(name: string, createLog: CreateEventLog): void {
  describe(`EventLog conformance: ${name}`, () => {
    const open: EventLog[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((log) => log.close()));
    });

    async function make(options: EventLogOptions = {}): Promise<EventLog> {
      const log = await createLog(options);
      open.push(log);
      return log;
    }

    const session = () => `session-${randomUUID()}`;

    it('gives increasing ids per session, also within one millisecond and when the clock goes back', async () => {
      const time = clock();
      const log = await make({ now: time.now });
      const a = session();
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push((await log.append(a, 'tick', i)).id);
      time.advance(-1_000);
      ids.push((await log.append(a, 'tick', 5)).id);
      time.advance(5_000);
      ids.push((await log.append(a, 'tick', 6)).id);
      for (let i = 1; i < ids.length; i += 1) {
        expect(compareEventIds(ids[i - 1] as string, ids[i] as string)).toBeLessThan(0);
      }
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('returns the appended event, and replays what came after the last id, oldest first', async () => {
      const log = await make();
      const [a, b] = [session(), session()];
      const first = await log.append(a, 'm', { n: 1 });
      expect(first).toMatchObject({ type: 'm', data: { n: 1 } });
      expect(typeof first.at).toBe('number');
      await log.append(a, 'm', { n: 2 });
      await log.append(b, 'm', { n: 'other' });
      await log.append(a, 'chat.reply', {
        n: 3,
        text: 'é "quoted" \u0000',
        precise: 0.30000000000000004,
      });
      const { events, gap } = await log.readAfter(a, first.id);
      expect(gap).toBe(false);
      expect(events.map((event) => [event.type, event.data])).toEqual([
        ['m', { n: 2 }],
        ['chat.reply', { n: 3, text: 'é "quoted" \u0000', precise: 0.30000000000000004 }],
      ]);
      const all = await log.readAfter(a);
      expect(all.gap).toBe(false);
      expect(all.events[0]).toEqual(first);
      expect(all.events).toHaveLength(3);
      expect(await log.readAfter(a, all.events[2]?.id)).toEqual({ events: [], gap: false });
    });

    it('reports a gap once more events than maxEvents came after the last id', async () => {
      const log = await make({ maxEvents: 3 });
      const a = session();
      const seen = await log.append(a, 'm', 0);
      const appended: SessionEvent[] = [];
      for (let i = 1; i <= 4; i += 1) appended.push(await log.append(a, 'm', i));
      const result = await log.readAfter(a, seen.id);
      expect(result.gap).toBe(true);
      expect(result.lostThroughId).toBe(appended[0]?.id);
      expect(result.events.map((event) => event.data)).toEqual([2, 3, 4]);
      // Resuming after the lost id is exact again.
      const resumed = await log.readAfter(a, result.lostThroughId);
      expect(resumed.gap).toBe(false);
      expect(resumed.events).toHaveLength(3);
    });

    it('drops events older than maxAgeMs and reports the gap', async () => {
      const time = clock();
      const log = await make({ maxAgeMs: 1_000, now: time.now });
      const a = session();
      const seen = await log.append(a, 'm', 'seen');
      const missed = await log.append(a, 'm', 'missed');
      time.advance(1_001);
      const kept = await log.append(a, 'm', 'kept');
      const result = await log.readAfter(a, seen.id);
      expect(result.gap).toBe(true);
      expect(result.lostThroughId).toBe(missed.id);
      expect(result.events.map((event) => event.id)).toEqual([kept.id]);
    });

    it('ages events out on read too, with no gap for a reader that had seen them all', async () => {
      const time = clock();
      const log = await make({ maxAgeMs: 1_000, now: time.now });
      const a = session();
      const first = await log.append(a, 'm', 'first');
      const last = await log.append(a, 'm', 'last');
      time.advance(5_000);
      expect(await log.readAfter(a, last.id)).toEqual({ events: [], gap: false });
      expect(await log.readAfter(a)).toEqual({ events: [], gap: false });
      expect(await log.readAfter(a, first.id)).toMatchObject({ events: [], gap: true });
    });

    it('reports a gap for an id it never gave or cannot parse', async () => {
      const log = await make();
      const a = session();
      expect((await log.readAfter(a, '1-0')).gap).toBe(true);
      expect(await log.readAfter(a)).toEqual({ events: [], gap: false });
      const event = await log.append(a, 'm', 1);
      expect((await log.readAfter(a, '1-0')).gap).toBe(true);
      const unparsable = await log.readAfter(a, 'not-an-id');
      expect(unparsable.gap).toBe(true);
      expect(unparsable.events.map((e) => e.id)).toEqual([event.id]);
    });

    it('delivers live events in order to subscribers of that session only, each its own copy', async () => {
      const log = await make();
      const [a, b] = [session(), session()];
      const got: SessionEvent[] = [];
      const all: SessionEvent[] = [];
      const other: SessionEvent[] = [];
      const unsubscribe = log.subscribe(a, (event) => got.push(event));
      log.subscribe(a, () => {
        throw new Error('a bad listener');
      });
      log.subscribe(a, (event) => all.push(event));
      log.subscribe(b, (event) => other.push(event));
      await Promise.all([log.readAfter(a), log.readAfter(b)]);

      const data = { list: [1] };
      const sent: SessionEvent[] = [await log.append(a, 'm', data)];
      data.list.push(2);
      for (let i = 0; i < 5; i += 1) sent.push(await log.append(a, 'm', i));
      await until(() => all.length === 6);
      expect(got).toEqual(
        sent.map((event, i) => (i === 0 ? { ...event, data: { list: [1] } } : event)),
      );
      expect(all).toEqual(got);
      (got[0]!.data as { list: number[] }).list.push(3);
      expect(all[0]?.data).toEqual({ list: [1] });
      expect((await log.readAfter(a)).events[0]?.data).toEqual({ list: [1] });

      unsubscribe();
      await log.append(a, 'm', 'after');
      await until(() => all.length === 7);
      expect(got).toHaveLength(6);
      expect(other).toHaveLength(0);
    });

    it('ends the subscriptions of a dropped session and forgets its events', async () => {
      const log = await make();
      const [a, b] = [session(), session()];
      let ended = 0;
      log.subscribe(
        a,
        () => undefined,
        () => {
          ended += 1;
        },
      );
      const onB: SessionEvent[] = [];
      log.subscribe(
        b,
        (event) => onB.push(event),
        () => {
          ended += 10;
        },
      );
      await Promise.all([log.readAfter(a), log.readAfter(b)]);
      const event = await log.append(a, 'm', 1);
      await log.drop(a);
      expect(ended).toBe(1);
      expect(await log.readAfter(a, event.id)).toEqual({ events: [], gap: true });
      expect(await log.readAfter(a)).toEqual({ events: [], gap: false });
      await log.append(b, 'm', 'still here');
      await until(() => onB.length === 1);
      expect(ended).toBe(1);
    });

    it('rejects the reserved gap type, bad types, non-JSON and oversize data, storing nothing', async () => {
      const log = await make({ maxEventBytes: 16 });
      const a = session();
      const refused = [
        [GAP_EVENT_TYPE, 1, ErrorCode.INVALID_REQUEST],
        ['', 1, ErrorCode.INVALID_REQUEST],
        ['x'.repeat(129), 1, ErrorCode.INVALID_REQUEST],
        ['m', undefined, ErrorCode.INVALID_REQUEST],
        ['m', 'x'.repeat(20), ErrorCode.PAYLOAD_TOO_LARGE],
      ] as const;
      for (const [type, data, code] of refused) {
        await expect(log.append(a, type, data as never)).rejects.toMatchObject({ code });
      }
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await expect(log.append(a, 'm', cyclic as never)).rejects.toMatchObject({
        code: ErrorCode.INVALID_REQUEST,
      });
      expect(await log.readAfter(a)).toEqual({ events: [], gap: false });
    });

    it('streams the replay, then live events, each once and in id order', async () => {
      const log = await make();
      const a = session();
      const seen = await log.append(a, 'm', 'seen');
      await log.append(a, 'm', 'missed-1');
      await log.append(a, 'm', 'missed-2');
      const abort = new AbortController();
      const stream = streamSessionEvents(log, a, { lastEventId: seen.id, signal: abort.signal });
      const received: SessionEvent[] = [];
      const reading = (async () => {
        for await (const event of stream) {
          received.push(event);
          if (received.length === 12) abort.abort();
        }
      })();
      // Appends race the stream's subscribe + replay: none may be lost or repeated.
      for (let i = 0; i < 10; i += 1) await log.append(a, 'm', `live-${i}`);
      await until(() => received.length >= 12);
      abort.abort();
      await log.append(a, 'm', 'wake');
      await reading;
      expect(received.map((event) => event.data)).toEqual([
        'missed-1',
        'missed-2',
        ...Array.from({ length: 10 }, (_, i) => `live-${i}`),
      ]);
    });

    it('replays exactly the events after any id it gave, with a gap exactly when some were dropped', async () => {
      const time = clock();
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }),
          fc.nat(),
          async (maxEvents, gaps, pick) => {
            const log = await createLog({ maxEvents, now: time.now });
            try {
              const a = session();
              const ids: string[] = [];
              for (const step of gaps) {
                time.advance(step);
                ids.push((await log.append(a, 'm', ids.length)).id);
              }
              const index = pick % ids.length;
              const result = await log.readAfter(a, ids[index]);
              const after = ids.slice(index + 1);
              const kept = after.slice(Math.max(0, after.length - maxEvents));
              expect(result.events.map((event) => event.id)).toEqual(kept);
              expect(result.gap).toBe(kept.length < after.length);
            } finally {
              await log.close();
            }
          },
        ),
        { numRuns: 50 },
      );
    });
  });
}
