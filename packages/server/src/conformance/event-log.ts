import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../errors.js';
import {
  compareEventIds,
  type EventLog,
  type EventLogOptions,
  GAP_EVENT_TYPE,
  type SessionEvent,
} from '../events/event-log.js';
import { streamSessionEvents } from '../events/stream.js';
import { matches, same, until } from './assert.js';
import type { TestRunner } from './runner.js';

/** Options of `describeEventLogConformance`. */
export interface EventLogConformanceOptions {
  /** Shown in the suite's name (`EventLog conformance: <name>`). */
  name: string;
  /**
   * A fresh log with the given options, for each test (a shared backing
   * service is fine: session ids are random). The suite closes it.
   */
  createLog: (options: EventLogOptions) => EventLog | Promise<EventLog>;
}

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

/** A small seeded generator of integers in `[min, max]` (mulberry32), so a failing case can be replayed. */
function randomIntegers(seed: number): (min: number, max: number) => number {
  let state = seed >>> 0;
  return (min, max) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    return min + Math.floor(unit * (max - min + 1));
  };
}

/**
 * The rules of `EventLog` as tests that run unchanged against every
 * implementation. Session ids are random, so logs sharing a backing service
 * do not see each other's events. Live delivery may be asynchronous: tests
 * subscribe, then `readAfter` (as `streamSessionEvents` does) before relying
 * on it, and wait for deliveries.
 *
 * @example
 * import { afterEach, beforeEach, describe, test } from 'node:test'; // or 'vitest'
 * import { MemoryEventLog } from '@morgan/session-server';
 * import { describeEventLogConformance } from '@morgan/session-server/testing';
 *
 * describeEventLogConformance(
 *   { describe, test, beforeEach, afterEach },
 *   { name: 'MemoryEventLog', createLog: (options) => new MemoryEventLog(options) },
 * );
 */
export function describeEventLogConformance(
  runner: TestRunner,
  options: EventLogConformanceOptions,
): void {
  const { describe, test, afterEach } = runner;
  const { createLog } = options;
  describe(`EventLog conformance: ${options.name}`, () => {
    const open: EventLog[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((log) => log.close()));
    });

    async function make(logOptions: EventLogOptions = {}): Promise<EventLog> {
      const log = await createLog(logOptions);
      open.push(log);
      return log;
    }

    const session = () => `session-${randomUUID()}`;

    test('gives increasing ids per session, also within one millisecond and when the clock goes back', async () => {
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
        assert.ok(compareEventIds(ids[i - 1] as string, ids[i] as string) < 0);
      }
      assert.equal(new Set(ids).size, ids.length);
    });

    test('returns the appended event, and replays what came after the last id, oldest first', async () => {
      const log = await make();
      const [a, b] = [session(), session()];
      const first = await log.append(a, 'm', { n: 1 });
      matches(first, { type: 'm', data: { n: 1 } });
      assert.equal(typeof first.at, 'number');
      await log.append(a, 'm', { n: 2 });
      await log.append(b, 'm', { n: 'other' });
      await log.append(a, 'chat.reply', {
        n: 3,
        text: 'é "quoted" \u0000',
        precise: 0.30000000000000004,
      });
      const { events, gap } = await log.readAfter(a, first.id);
      assert.equal(gap, false);
      same(
        events.map((event) => [event.type, event.data]),
        [
          ['m', { n: 2 }],
          ['chat.reply', { n: 3, text: 'é "quoted" \u0000', precise: 0.30000000000000004 }],
        ],
      );
      const all = await log.readAfter(a);
      assert.equal(all.gap, false);
      same(all.events[0], first);
      assert.equal(all.events.length, 3);
      same(await log.readAfter(a, all.events[2]?.id), { events: [], gap: false });
    });

    test('reports a gap once more events than maxEvents came after the last id', async () => {
      const log = await make({ maxEvents: 3 });
      const a = session();
      const seen = await log.append(a, 'm', 0);
      const appended: SessionEvent[] = [];
      for (let i = 1; i <= 4; i += 1) appended.push(await log.append(a, 'm', i));
      const result = await log.readAfter(a, seen.id);
      assert.equal(result.gap, true);
      assert.equal(result.lostThroughId, appended[0]?.id);
      same(
        result.events.map((event) => event.data),
        [2, 3, 4],
      );
      // Resuming after the lost id is exact again.
      const resumed = await log.readAfter(a, result.lostThroughId);
      assert.equal(resumed.gap, false);
      assert.equal(resumed.events.length, 3);
    });

    test('drops events older than maxAgeMs and reports the gap', async () => {
      const time = clock();
      const log = await make({ maxAgeMs: 1_000, now: time.now });
      const a = session();
      const seen = await log.append(a, 'm', 'seen');
      const missed = await log.append(a, 'm', 'missed');
      time.advance(1_001);
      const kept = await log.append(a, 'm', 'kept');
      const result = await log.readAfter(a, seen.id);
      assert.equal(result.gap, true);
      assert.equal(result.lostThroughId, missed.id);
      same(
        result.events.map((event) => event.id),
        [kept.id],
      );
    });

    test('ages events out on read too, with no gap for a reader that had seen them all', async () => {
      const time = clock();
      const log = await make({ maxAgeMs: 1_000, now: time.now });
      const a = session();
      const first = await log.append(a, 'm', 'first');
      const last = await log.append(a, 'm', 'last');
      time.advance(5_000);
      same(await log.readAfter(a, last.id), { events: [], gap: false });
      same(await log.readAfter(a), { events: [], gap: false });
      matches(await log.readAfter(a, first.id), { events: [], gap: true });
    });

    test('reports a gap for an id it never gave or cannot parse', async () => {
      const log = await make();
      const a = session();
      assert.equal((await log.readAfter(a, '1-0')).gap, true);
      same(await log.readAfter(a), { events: [], gap: false });
      const event = await log.append(a, 'm', 1);
      assert.equal((await log.readAfter(a, '1-0')).gap, true);
      const unparsable = await log.readAfter(a, 'not-an-id');
      assert.equal(unparsable.gap, true);
      same(
        unparsable.events.map((e) => e.id),
        [event.id],
      );
    });

    test('delivers live events in order to subscribers of that session only, each its own copy', async () => {
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
      same(
        got,
        sent.map((event, i) => (i === 0 ? { ...event, data: { list: [1] } } : event)),
      );
      same(all, got);
      (got[0]!.data as { list: number[] }).list.push(3);
      same(all[0]?.data, { list: [1] });
      same((await log.readAfter(a)).events[0]?.data, { list: [1] });

      unsubscribe();
      await log.append(a, 'm', 'after');
      await until(() => all.length === 7);
      assert.equal(got.length, 6);
      assert.equal(other.length, 0);
    });

    test('ends the subscriptions of a dropped session and forgets its events', async () => {
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
      assert.equal(ended, 1);
      same(await log.readAfter(a, event.id), { events: [], gap: true });
      same(await log.readAfter(a), { events: [], gap: false });
      await log.append(b, 'm', 'still here');
      await until(() => onB.length === 1);
      assert.equal(ended, 1);
    });

    test('rejects the reserved gap type, bad types, non-JSON and oversize data, storing nothing', async () => {
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
        await assert.rejects(log.append(a, type, data as never), { code });
      }
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(log.append(a, 'm', cyclic as never), {
        code: ErrorCode.INVALID_REQUEST,
      });
      same(await log.readAfter(a), { events: [], gap: false });
    });

    test('streams the replay, then live events, each once and in id order', async () => {
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
      same(
        received.map((event) => event.data),
        ['missed-1', 'missed-2', ...Array.from({ length: 10 }, (_, i) => `live-${i}`)],
      );
    });

    test('replays exactly the events after any id it gave, with a gap exactly when some were dropped', async () => {
      const time = clock();
      const seed = Date.now();
      const random = randomIntegers(seed);
      for (let run = 0; run < 50; run += 1) {
        const maxEvents = random(1, 8);
        const steps = Array.from({ length: random(1, 30) }, () => random(0, 3));
        const pick = random(0, steps.length - 1);
        const log = await createLog({ maxEvents, now: time.now });
        try {
          const a = session();
          const ids: string[] = [];
          for (const step of steps) {
            time.advance(step);
            ids.push((await log.append(a, 'm', ids.length)).id);
          }
          const result = await log.readAfter(a, ids[pick]);
          const after = ids.slice(pick + 1);
          const kept = after.slice(Math.max(0, after.length - maxEvents));
          const replay = `seed ${seed}, run ${run}: maxEvents ${maxEvents}, steps ${steps}, pick ${pick}`;
          same(
            result.events.map((event) => event.id),
            kept,
            replay,
          );
          assert.equal(result.gap, kept.length < after.length, replay);
        } finally {
          await log.close();
        }
      }
    });
  });
}
