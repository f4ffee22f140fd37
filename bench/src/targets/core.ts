// P3: heap per idle session with 1,000,000 sessions in MemoryStore, against a
//     plain Map of the same record objects measured in the same run.
// P4: time of one expiry sweep (`manager.cleanup()`) with 1,000,000 live and
//     0 expired sessions.
// ops: create / get / trackRequest operations per second (informational).
//
// Heap figures are `process.memoryUsage().heapUsed` deltas after full GCs
// (run with --expose-gc). The records are built once, into the plain Map;
// the store is filled from the Map's values, then the Map is dropped, so the
// store's figure is everything it keeps alive per session (its own copies of
// the records, its indexes, and the id strings it shares with the originals).
import { MemoryStore, SessionManager, type SessionRecord } from '@morgan/session-server';
import { newSessionId } from '../../../packages/server/src/session.js';
import { gitCommit, writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';

const SESSIONS = 1_000_000;
const TIMEOUT_MS = 60 * 60 * 1000;
const SWEEP_RUNS = 51;
const OPS_SECONDS = 1;

function collect(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run node with --expose-gc');
  for (let i = 0; i < 3; i += 1) gc();
  return process.memoryUsage().heapUsed;
}

/** A record as `SessionManager.createSession` builds it, for an idle anonymous session. */
function idleRecord(now: number): SessionRecord {
  return {
    sessionId: newSessionId(),
    userId: undefined,
    conversationId: undefined,
    createdAt: now,
    lastActivity: now,
    metadata: '{}',
    metadataVersion: 1,
    connectionCount: 0,
    activeRequests: [],
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs `operation` in a loop for OPS_SECONDS; returns operations per second. */
async function opsPerSecond(operation: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  const limitMs = OPS_SECONDS * 1000;
  let count = 0;
  while (ms(start) < limitMs) {
    for (let i = 0; i < 1000; i += 1) await operation(count + i);
    count += 1000;
  }
  return count / (ms(start) / 1000);
}

async function memoryAndSweep(): Promise<BenchResult[]> {
  const now = Date.now();
  const base = collect();

  // Baseline: a plain Map of the records.
  let map: Map<string, SessionRecord> | undefined = new Map();
  for (let i = 0; i < SESSIONS; i += 1) {
    const record = idleRecord(now - (SESSIONS - i)); // one per ms, oldest first
    map.set(record.sessionId, record);
  }
  const withMap = collect();
  const mapBytes = (withMap - base) / SESSIONS;

  // The O(n) sweep a plain Map would need, for contrast with P4.
  const scanTimes: number[] = [];
  for (let run = 0; run < 5; run += 1) {
    const start = process.hrtime.bigint();
    let expired = 0;
    for (const record of map.values()) if (now - record.lastActivity > TIMEOUT_MS) expired += 1;
    scanTimes.push(ms(start));
    if (expired !== 0) throw new Error('baseline scan found expired sessions');
  }

  // MemoryStore filled with the same records; then the Map is dropped.
  const store = new MemoryStore();
  const manager = new SessionManager({ store, sessionTimeoutMs: TIMEOUT_MS, now: () => now });
  for (const record of map.values()) await store.create(record);
  map = undefined;
  const withStore = collect();
  const storeBytes = (withStore - base) / SESSIONS;
  const overhead = storeBytes - mapBytes;

  // P4: sweeps with every session live.
  const sweepTimes: number[] = [];
  for (let run = 0; run < SWEEP_RUNS; run += 1) {
    const start = process.hrtime.bigint();
    const removed = await manager.cleanup();
    sweepTimes.push(ms(start));
    if (removed !== 0) throw new Error('the sweep removed live sessions');
  }
  if ((await store.count()) !== SESSIONS) throw new Error('sessions went missing');
  const sweepMs = median(sweepTimes);

  const rows: BenchResult[] = [
    {
      id: 'P3',
      what: 'heap per idle session, 1,000,000 in MemoryStore',
      measured: `+${overhead.toFixed(0)} B over Map, ${storeBytes.toFixed(0)} B in all`,
      target: '≤ 400 B over plain Map, < 1 KB in all',
      met: overhead <= 400 && storeBytes < 1024,
      detail: `plain Map of the same records: ${mapBytes.toFixed(0)} B/session; MemoryStore: ${storeBytes.toFixed(0)} B/session (${((withStore - base) / 2 ** 20).toFixed(0)} MiB)`,
    },
    {
      id: 'P4',
      what: 'sweep, 1,000,000 live and 0 expired sessions',
      measured: `${sweepMs.toFixed(4)} ms (median of ${SWEEP_RUNS})`,
      target: '< 1 ms',
      met: sweepMs < 1,
      detail: `max ${Math.max(...sweepTimes).toFixed(4)} ms; a full scan of a plain Map of the same sessions takes ${median(scanTimes).toFixed(1)} ms`,
    },
  ];
  const commit = gitCommit();
  writeResults('P3', {
    commit,
    target: 'P3',
    sessions: SESSIONS,
    heapUsedBytes: { base, withMap, withStore },
    mapBytesPerSession: mapBytes,
    storeBytesPerSession: storeBytes,
    overheadBytesPerSession: overhead,
    printed: rows.filter((row) => row.id === 'P3'),
  });
  writeResults('P4', {
    commit,
    target: 'P4',
    sessions: SESSIONS,
    sweepRuns: SWEEP_RUNS,
    sweepMedianMs: sweepMs,
    sweepMs: sweepTimes,
    mapScanMs: scanTimes,
    printed: rows.filter((row) => row.id === 'P4'),
  });
  return rows;
}

async function operations(): Promise<BenchResult[]> {
  const manager = new SessionManager();
  const ids: string[] = [];
  const create = await opsPerSecond(async (i) => {
    const session = await manager.createSession({ userId: `u${i % 1000}`, metadata: { n: i } });
    if (ids.length < 100_000) ids.push(session.sessionId);
  });
  const get = await opsPerSecond((i) => manager.getSession(ids[i % ids.length] ?? ''));
  const track = await opsPerSecond((i) => manager.trackRequest(ids[i % ids.length] ?? '', () => i));
  await manager.stop();
  const row = (what: string, value: number): BenchResult => ({
    id: 'ops',
    what,
    measured: `${Math.round(value).toLocaleString('en-US')} ops/s`,
    target: '-',
  });
  const rows = [
    row('createSession (memory store)', create),
    row('getSession (memory store)', get),
    row('trackRequest, callback form (memory store)', track),
  ];
  writeResults('ops', {
    commit: gitCommit(),
    secondsEach: OPS_SECONDS,
    opsPerSecond: { createSession: create, getSession: get, trackRequest: track },
    printed: rows,
  });
  return rows;
}

const target: BenchTarget = {
  ids: ['P3', 'P4', 'ops'],
  async run() {
    const rows = await memoryAndSweep();
    collect();
    return [...rows, ...(await operations())];
  },
};

export default target;
