import { describe, expect, it } from 'vitest';
import { describeEventLogConformance } from '../conformance/event-log.js';
import { ErrorCode } from '../errors.js';
import { vitestRunner } from '../testing/vitest-runner.js';
import { eventLogDefaults } from './event-log.js';
import { MemoryEventLog } from './memory-event-log.js';

describeEventLogConformance(vitestRunner, {
  name: 'MemoryEventLog',
  createLog: (options) => new MemoryEventLog(options),
});

const A = 'session-a';
const B = 'session-b';

describe('MemoryEventLog', () => {
  it('documents 100 events and 5 minutes as defaults', () => {
    const log = new MemoryEventLog();
    expect(eventLogDefaults).toMatchObject({ maxEvents: 100, maxAgeMs: 300_000 });
    expect(log.maxEvents).toBe(100);
    expect(log.maxAgeMs).toBe(300_000);
  });

  it('delivers an event to its subscribers before append resolves', async () => {
    const log = new MemoryEventLog();
    const got: unknown[] = [];
    log.subscribe(A, (event) => got.push(event.data));
    await log.append(A, 'm', 1);
    expect(got).toEqual([1]);
  });

  it('frees the buffer and the subscriptions of a dropped session, and everything on close', async () => {
    const log = new MemoryEventLog();
    log.subscribe(A, () => undefined);
    log.subscribe(B, () => undefined);
    await log.append(A, 'm', 1);
    await log.append(B, 'm', 1);
    await log.drop(A);
    expect(log.subscriberCount).toBe(1);
    expect(log.size).toBe(1);
    await log.close();
    expect(log.size).toBe(0);
    expect(log.subscriberCount).toBe(0);
  });

  it('keeps no state for a refused append', async () => {
    const log = new MemoryEventLog({ maxEventBytes: 16 });
    await expect(log.append(A, 'gap', 1)).rejects.toMatchObject({
      code: ErrorCode.INVALID_REQUEST,
    });
    await expect(log.append(A, 'm', 'x'.repeat(20))).rejects.toMatchObject({
      code: ErrorCode.PAYLOAD_TOO_LARGE,
    });
    expect(log.size).toBe(0);
  });

  it('refuses non-positive limits with INVALID_CONFIG', () => {
    for (const options of [{ maxEvents: 0 }, { maxAgeMs: -1 }, { maxEventBytes: Number.NaN }]) {
      expect(() => new MemoryEventLog(options)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }),
      );
    }
  });
});
