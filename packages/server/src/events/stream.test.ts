import { describe, expect, it } from 'vitest';
import type { SessionEvent } from './event-log.js';
import { MemoryEventLog } from './memory-event-log.js';
import { streamSessionEvents } from './stream.js';

const A = 'session-a';

/** Reads `count` events from the stream, then stops it. */
async function take(
  stream: AsyncIterableIterator<SessionEvent, unknown>,
  count: number,
): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  if (count === 0) return events;
  for await (const event of stream) {
    events.push(event);
    if (events.length === count) break;
  }
  return events;
}

describe('streamSessionEvents', () => {
  it('replays missed events, then live ones, without duplicates', async () => {
    const log = new MemoryEventLog();
    const seen = await log.append(A, 'm', 0);
    await log.append(A, 'm', 1);
    const stream = streamSessionEvents(log, A, { lastEventId: seen.id });
    const first = await stream.next();
    expect(first.value).toMatchObject({ type: 'm', data: 1 });
    const pending = take(stream, 2);
    await log.append(A, 'm', 2);
    await log.append(A, 'm', 3);
    expect((await pending).map((event) => event.data)).toEqual([2, 3]);
  });

  it('never repeats an event appended while the replay was being read', async () => {
    const log = new MemoryEventLog();
    const readAfter = log.readAfter.bind(log);
    log.readAfter = async (sessionId, lastEventId) => {
      await log.append(A, 'm', 'raced');
      return readAfter(sessionId, lastEventId);
    };
    const stream = streamSessionEvents(log, A);
    const events = take(stream, 2);
    await new Promise((resolve) => setImmediate(resolve));
    await log.append(A, 'm', 'live');
    expect((await events).map((event) => event.data)).toEqual(['raced', 'live']);
  });

  it('starts with a gap event when the buffer no longer holds what was missed', async () => {
    const log = new MemoryEventLog({ maxEvents: 2 });
    const seen = await log.append(A, 'm', 0);
    const lost = await log.append(A, 'm', 1);
    await log.append(A, 'm', 2);
    await log.append(A, 'm', 3);
    const events = await take(streamSessionEvents(log, A, { lastEventId: seen.id }), 3);
    expect(events[0]).toMatchObject({
      id: lost.id,
      type: 'gap',
      data: { lastEventId: seen.id, lostThroughId: lost.id },
    });
    expect(events.slice(1).map((event) => event.data)).toEqual([2, 3]);
  });

  it('tells a reader slower than the writers about the events it dropped', async () => {
    const log = new MemoryEventLog();
    const stream = streamSessionEvents(log, A, { maxQueuedEvents: 2 });
    const started = stream.next();
    await new Promise((resolve) => setImmediate(resolve));
    await log.append(A, 'm', 0);
    expect((await started).value).toMatchObject({ data: 0 });
    for (let i = 1; i <= 4; i += 1) await log.append(A, 'm', i);
    const events = await take(stream, 3);
    expect(events.map((event) => event.type)).toEqual(['gap', 'm', 'm']);
    expect(events.slice(1).map((event) => event.data)).toEqual([3, 4]);
  });

  it('ends when the signal aborts and unsubscribes', async () => {
    const log = new MemoryEventLog();
    const controller = new AbortController();
    let listeners = 0;
    const subscribe = log.subscribe.bind(log);
    log.subscribe = (sessionId, listener) => {
      listeners += 1;
      const unsubscribe = subscribe(sessionId, listener);
      return () => {
        listeners -= 1;
        unsubscribe();
      };
    };
    const stream = streamSessionEvents(log, A, { signal: controller.signal });
    const next = stream.next();
    await new Promise((resolve) => setImmediate(resolve));
    expect(listeners).toBe(1);
    controller.abort();
    expect(await next).toEqual({ done: true, value: 'aborted' });
    expect(listeners).toBe(0);
  });

  it("ends with 'dropped' when the session's stream is dropped", async () => {
    const log = new MemoryEventLog();
    const stream = streamSessionEvents(log, A);
    const next = stream.next();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.subscriberCount).toBe(1);
    await log.drop(A);
    expect(await next).toEqual({ done: true, value: 'dropped' });
    expect(log.subscriberCount).toBe(0);
  });
});
