import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionNotFoundError } from './errors.js';
import { SessionManager, type TrackedRequest } from './manager.js';
import type { JsonObject } from './metadata.js';
import type { Session } from './session.js';
import { MemoryStore } from './store/memory.js';
import type { Store } from './store/store.js';

const T0 = 1_700_000_000_000;
const TIMEOUT_MS = 10_000;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/**
 * A MemoryStore whose every operation waits for the fast-check scheduler
 * before it takes effect, so the scheduler picks the interleaving of
 * concurrent calls, as a remote store with varying latency would.
 */
function scheduledStore(s: fc.Scheduler, inner: MemoryStore): Store {
  const later =
    <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await s.schedule(Promise.resolve(), name);
      return fn.apply(inner, args);
    };
  return {
    name: inner.name,
    configure: (settings) => inner.configure(settings),
    create: later('create', inner.create),
    get: later('get', inner.get),
    touch: later('touch', inner.touch),
    delete: later('delete', inner.delete),
    rotate: later('rotate', inner.rotate),
    replaceMetadata: later('replaceMetadata', inner.replaceMetadata),
    addRequest: later('addRequest', inner.addRequest),
    removeRequest: later('removeRequest', inner.removeRequest),
    addConnection: later('addConnection', inner.addConnection),
    removeConnection: later('removeConnection', inner.removeConnection),
    listByUser: later('listByUser', inner.listByUser),
    claimIdempotencyKey: later('claimIdempotencyKey', inner.claimIdempotencyKey),
    completeIdempotencyKey: later('completeIdempotencyKey', inner.completeIdempotencyKey),
    releaseIdempotencyKey: later('releaseIdempotencyKey', inner.releaseIdempotencyKey),
    sweep: later('sweep', inner.sweep),
    count: later('count', inner.count),
    ping: later('ping', inner.ping),
    close: later('close', inner.close),
  };
}

/** Lets every pending promise reaction run (all waits go through the scheduler). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

type Command =
  | { kind: 'create'; user: number }
  | { kind: 'delete'; target: number }
  | { kind: 'touch'; target: number }
  | { kind: 'track' | 'using'; target: number; steps: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), user: fc.nat(2) }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'touch' as const), target: fc.nat(6) }),
  fc.record({
    kind: fc.constantFrom('track' as const, 'using' as const),
    target: fc.nat(6),
    steps: fc.nat(3),
  }),
);

describe('Property 12: counters stay exact under any interleaving', () => {
  it('trackRequest/create/delete/touch in any order keep counts exact and leak no request id', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 4 }),
        fc.array(commandArb, { minLength: 1, maxLength: 16 }),
        async (s, initial, commands) => {
          const inner = new MemoryStore();
          const manager = new SessionManager({
            sessionTimeoutMs: TIMEOUT_MS,
            now: () => T0,
            store: scheduledStore(s, inner),
          });
          const ids: string[] = [];
          const creating = Array.from({ length: initial }, () => manager.createSession());
          for (const session of await s.waitFor(Promise.all(creating))) ids.push(session.sessionId);

          let started = 0;
          let settled = 0;
          let deletedTrue = 0;
          const deletions = new Map<string, number>();
          /** Request id → session id, from the moment its callback runs until trackRequest settles. */
          const open = new Map<string, string>();
          /** Request ids whose callback is still running. */
          const running = new Set<string>();

          const work = async (request: TrackedRequest, sessionId: string, steps: number) => {
            open.set(request.requestId, sessionId);
            running.add(request.requestId);
            expect(request.session.activeRequests).toContain(request.requestId);
            for (let i = 0; i < steps; i += 1) await s.schedule(Promise.resolve(), 'work');
            running.delete(request.requestId);
            return request.requestId;
          };

          const run = async (command: Command): Promise<void> => {
            await s.schedule(Promise.resolve(), `start ${command.kind}`);
            if (command.kind === 'create') {
              ids.push((await manager.createSession({ userId: `u${command.user}` })).sessionId);
              return;
            }
            const id = ids[command.target] ?? UNKNOWN;
            if (command.kind === 'delete') {
              if (await manager.deleteSession(id)) {
                deletedTrue += 1;
                deletions.set(id, (deletions.get(id) ?? 0) + 1);
              }
              return;
            }
            if (command.kind === 'touch') {
              await manager.touch(id);
              return;
            }
            const { steps } = command;
            started += 1;
            let requestId: string | undefined;
            try {
              if (command.kind === 'track') {
                requestId = await manager.trackRequest(id, (request) => work(request, id, steps));
              } else {
                await using request = await manager.trackRequest(id);
                requestId = await work(request, id, steps);
              }
            } catch (error) {
              expect(error).toBeInstanceOf(SessionNotFoundError);
            } finally {
              settled += 1;
              if (requestId !== undefined) open.delete(requestId);
            }
          };

          const check = async () => {
            expect(manager.activeRequestCount).toBe(started - settled);
            let listed = 0;
            for (const id of new Set([...ids, UNKNOWN])) {
              const record = await inner.get(id, T0);
              if (record === undefined) continue;
              listed += record.activeRequests.length;
              expect(new Set(record.activeRequests).size).toBe(record.activeRequests.length);
              for (const requestId of record.activeRequests) expect(open.get(requestId)).toBe(id);
            }
            for (const requestId of running) {
              const sessionId = open.get(requestId) ?? '';
              const record = await inner.get(sessionId, T0);
              if (record !== undefined) expect(record.activeRequests).toContain(requestId);
            }
            expect(listed).toBeLessThanOrEqual(manager.activeRequestCount);
          };

          const all = Promise.all(commands.map(run));
          all.catch(() => {});
          while (s.count() > 0) {
            await s.waitOne();
            await settle();
            await check();
          }
          await all;

          expect(open.size).toBe(0);
          expect(manager.activeRequestCount).toBe(0);
          for (const count of deletions.values()) expect(count).toBe(1);
          for (const id of ids) {
            const record = await inner.get(id, T0);
            if (deletions.has(id)) expect(record).toBeUndefined();
            else expect(record?.activeRequests).toEqual([]);
          }
          expect(await s.waitFor(manager.getMetrics())).toMatchObject({
            activeRequests: 0,
            totalSessionsCreated: ids.length,
            totalSessionsDeleted: deletedTrue,
            activeSessions: ids.length - deletedTrue,
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

const metadataArb: fc.Arbitrary<JsonObject> = fc.dictionary(
  fc.string({ maxLength: 6 }).filter((key) => key !== '__proto__'),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 4 },
) as fc.Arbitrary<JsonObject>;

const sessionPlanArb = fc.record({
  user: fc.option(fc.nat(2), { nil: undefined }),
  metadata: metadataArb,
  old: fc.boolean(),
  requests: fc.nat(2),
  connections: fc.nat(1),
  deleted: fc.boolean(),
});

describe('Property 14: ending some sessions leaves the others unchanged', () => {
  it('cleanup and deletion of any subset leave every other session, its metadata and requests intact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(sessionPlanArb, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (plans, cleanupFirst) => {
          const clock = { now: T0 };
          const manager = new SessionManager({
            sessionTimeoutMs: TIMEOUT_MS,
            now: () => clock.now,
          });
          const expired = new Set<string>();
          manager.on('expired', (event) => expired.add(event.sessionId));
          const sessions: {
            plan: (typeof plans)[number];
            id: string;
            requests: TrackedRequest[];
          }[] = [];
          // Old sessions start at T0, young ones half a timeout later.
          for (const old of [true, false]) {
            clock.now = old ? T0 : T0 + TIMEOUT_MS / 2;
            for (const plan of plans.filter((p) => p.old === old)) {
              const input = plan.user === undefined ? {} : { userId: `u${plan.user}` };
              const session = await manager.createSession({ ...input, metadata: plan.metadata });
              expect(session.metadata).toEqual(JSON.parse(JSON.stringify(plan.metadata)));
              const requests: TrackedRequest[] = [];
              for (let i = 0; i < plan.requests; i += 1)
                requests.push(await manager.beginRequest(session.sessionId));
              for (let i = 0; i < plan.connections; i += 1)
                await manager.addConnection(session.sessionId);
              sessions.push({ plan, id: session.sessionId, requests });
            }
          }
          const before = new Map<string, Session | undefined>();
          for (const { id } of sessions) before.set(id, await manager.getSession(id));

          clock.now = T0 + TIMEOUT_MS + 1;
          const expires = (p: (typeof plans)[number]) =>
            p.old && p.requests === 0 && p.connections === 0;
          const doDeletes = async () => {
            for (const { plan, id } of sessions) {
              if (!plan.deleted) continue;
              const removed = await manager.deleteSession(id);
              if (!(expires(plan) && cleanupFirst)) expect(removed).toBe(true);
            }
          };
          if (!cleanupFirst) await doDeletes();
          await manager.cleanup();
          if (cleanupFirst) await doDeletes();

          const survivors = sessions.filter(({ plan }) => !plan.deleted && !expires(plan));
          const verify = async () => {
            for (const { plan, id } of sessions) {
              const now = await manager.getSession(id);
              if (plan.deleted || expires(plan)) expect(now).toBeUndefined();
              else expect(now).toEqual(before.get(id));
            }
            for (const user of [0, 1, 2]) {
              const listed = await manager.listSessionsByUser(`u${user}`);
              const expected = survivors
                .filter(({ plan }) => plan.user === user)
                .map(({ id }) => before.get(id));
              expect(new Set(listed.map((x) => x.sessionId))).toEqual(
                new Set(expected.map((x) => x?.sessionId)),
              );
              for (const session of listed) expect(session).toEqual(before.get(session.sessionId));
            }
          };
          await verify();
          const expectedExpired = sessions.filter(
            ({ plan }) => expires(plan) && (cleanupFirst || !plan.deleted),
          );
          expect(expired).toEqual(new Set(expectedExpired.map(({ id }) => id)));

          // Requests of deleted sessions finish afterwards: nothing comes back, nothing else moves.
          for (const { plan, requests } of sessions)
            if (plan.deleted) for (const r of requests) await r.end();
          await verify();
          expect(await manager.getActiveSessionCount()).toBe(survivors.length);
        },
      ),
      { numRuns: 150 },
    );
  });
});

interface SessionModel {
  id: string;
  /** Last activity the manager should have recorded. */
  last: number;
  handles: TrackedRequest[];
  /** Expired: idle past the timeout at some moment while unpinned. */
  dead: boolean;
  /** `expired` events seen for it. */
  announced: number;
}

type Step = {
  advanceMs: number;
  target: number;
  action: 'none' | 'touch' | 'begin' | 'end' | 'get';
};

const stepArb: fc.Arbitrary<Step> = fc.record({
  advanceMs: fc.oneof(
    fc.integer({ min: 0, max: 2 * TIMEOUT_MS }),
    fc.constantFrom(TIMEOUT_MS - 1, TIMEOUT_MS, TIMEOUT_MS + 1),
  ),
  target: fc.nat(2),
  action: fc.constantFrom('none', 'touch', 'begin', 'end', 'get'),
});

describe('expiry respects the timeout for any activity schedule (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a session lives exactly while idle for at most the timeout or pinned, and is announced once', async () => {
    const CLEANUP_MS = 1_000;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), async (steps) => {
        vi.useFakeTimers({ now: T0 });
        const manager = new SessionManager({
          sessionTimeoutMs: TIMEOUT_MS,
          cleanupIntervalMs: CLEANUP_MS,
        }).start();
        const models: SessionModel[] = [];
        for (let i = 0; i < 3; i += 1) {
          const { sessionId } = await manager.createSession();
          models.push({
            id: sessionId,
            last: Date.now(),
            handles: [] as TrackedRequest[],
            dead: false,
            announced: 0,
          });
        }
        const byId = new Map(models.map((m) => [m.id, m]));
        const violations: string[] = [];
        manager.on('expired', ({ sessionId }) => {
          const model = byId.get(sessionId);
          if (model === undefined) return violations.push(`unknown ${sessionId}`);
          model.announced += 1;
          if (model.handles.length > 0) violations.push('announced a pinned session');
          if (!(Date.now() - model.last > TIMEOUT_MS))
            violations.push('announced before the timeout');
        });
        const deadIfIdle = () => {
          for (const m of models)
            if (m.handles.length === 0 && Date.now() - m.last > TIMEOUT_MS) m.dead = true;
        };

        for (const step of steps) {
          await vi.advanceTimersByTimeAsync(step.advanceMs);
          deadIfIdle();
          const model = models[step.target];
          if (model === undefined) throw new Error('no model');
          if (step.action === 'touch') {
            const touched = await manager.touch(model.id);
            expect(touched !== undefined).toBe(!model.dead);
            if (!model.dead) model.last = Date.now();
          } else if (step.action === 'begin') {
            if (model.dead) {
              await expect(manager.beginRequest(model.id)).rejects.toBeInstanceOf(
                SessionNotFoundError,
              );
            } else {
              model.handles.push(await manager.beginRequest(model.id));
              model.last = Date.now();
            }
          } else if (step.action === 'end') {
            const handle = model.handles.pop();
            if (handle !== undefined) {
              await handle.end();
              model.last = Date.now();
            }
          }
          await vi.advanceTimersByTimeAsync(0);
          for (const m of models) {
            expect((await manager.getSession(m.id)) !== undefined).toBe(!m.dead);
            // The sweep runs every CLEANUP_MS, so a session dead for that long has been announced.
            if (m.dead && Date.now() >= m.last + TIMEOUT_MS + 1 + CLEANUP_MS)
              expect(m.announced).toBe(1);
            expect(m.announced).toBeLessThanOrEqual(1);
          }
        }

        for (const m of models) {
          if (m.handles.length === 0) continue;
          for (const handle of m.handles.splice(0)) await handle.end();
          m.last = Date.now();
        }
        await vi.advanceTimersByTimeAsync(TIMEOUT_MS + 2 * CLEANUP_MS);
        expect(violations).toEqual([]);
        expect(models.map((m) => m.announced)).toEqual([1, 1, 1]);
        expect((await manager.getMetrics()).totalSessionsExpired).toBe(3);
        await manager.stop();
        expect(vi.getTimerCount()).toBe(0);
        vi.useRealTimers();
      }),
      { numRuns: 60 },
    );
  });
});
