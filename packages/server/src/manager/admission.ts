import { CapacityError, RateLimitedError } from '../errors.js';
import {
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitPolicy,
  RecentRefusals,
} from '../rate-limit.js';
import type { SessionRecord } from '../session.js';
import type { CapabilitiesInUse } from '../store/capabilities.js';
import type { Store } from '../store/store.js';
import type { Sweeper } from './sweeper.js';

/** The message of a refused session creation. */
export const CREATION_REFUSED = 'Too many sessions created from this address, retry later';

/** What a `SessionAdmission` needs. */
export interface AdmissionParts {
  readonly store: Store;
  /** Makes the `createRateLimit` limiter: the store's, or one on this node. */
  readonly rateLimiter: CapabilitiesInUse['rateLimiter'];
  /** Frees room in a full store before a creation is refused. */
  readonly sweeper: Sweeper;
  readonly now: () => number;
  /** `createRateLimit`; false when off. */
  readonly createPolicy: RateLimitPolicy | false;
  /** `requestRateLimit`, checked; undefined when off. */
  readonly requestPolicy: RateLimitPolicy | undefined;
  readonly maxSessions: number;
  readonly maxSessionsPerUser: number;
}

/**
 * Whether a session may be created or a request made: sessions created per
 * client address (`createRateLimit`), requests per session
 * (`requestRateLimit`, counted by the store as it tracks the request), room
 * in the store (`maxSessions`) and per user (`maxSessionsPerUser`). A rate
 * limit's refusal is remembered on this node until its window resets, so a
 * flood from one address or session costs no store call.
 */
export class SessionAdmission {
  readonly #store: Store;
  readonly #sweeper: Sweeper;
  readonly #now: () => number;
  /** Sessions created per client address; undefined when off. */
  readonly #createLimiter: RateLimiter | undefined;
  readonly #createRefusals = new RecentRefusals();
  /** Requests per session, counted by the store; undefined when off. */
  readonly #requestPolicy: RateLimitPolicy | undefined;
  readonly #requestRefusals = new RecentRefusals();
  readonly #maxSessions: number;
  readonly #maxSessionsPerUser: number;

  constructor(parts: AdmissionParts) {
    const { store, createPolicy } = parts;
    this.#store = store;
    this.#sweeper = parts.sweeper;
    this.#now = parts.now;
    this.#createLimiter =
      createPolicy === false ? undefined : parts.rateLimiter('create', createPolicy);
    this.#requestPolicy = parts.requestPolicy;
    this.#maxSessions = parts.maxSessions;
    this.#maxSessionsPerUser = parts.maxSessionsPerUser;
  }

  /** Takes one creation from the address's allowance; throws `RateLimitedError` past it. */
  async admitCreation(clientAddress: string | undefined): Promise<void> {
    if (this.#createLimiter === undefined) return;
    const known = this.creationRefusal(clientAddress);
    if (known !== undefined) throw creationRefused(known);
    const key = clientAddress ?? 'unknown';
    const decision = await this.#createLimiter.consume(key);
    if (decision.allowed) return;
    this.#createRefusals.add(key, decision, this.#now());
    throw creationRefused(decision);
  }

  /** The refusal this node remembers for the address's current window, if any. */
  creationRefusal(clientAddress: string | undefined): RateLimitDecision | undefined {
    if (this.#createRefusals.size === 0) return undefined;
    return this.#createRefusals.get(clientAddress ?? 'unknown', this.#now());
  }

  /** Throws the refusal this node remembers for the session's current window, if any. */
  checkRequestRefusal(sessionId: string): void {
    if (this.#requestRefusals.size === 0) return;
    const known = this.#requestRefusals.get(sessionId, this.#now());
    if (known !== undefined) throw requestRefused(known);
  }

  /**
   * The refusal for a request past `requestRateLimit`, by the count in the
   * record the store answered as it tracked the request (remembered until
   * its window resets); undefined within the limit.
   */
  overRequestLimit(sessionId: string, record: SessionRecord): RateLimitedError | undefined {
    const policy = this.#requestPolicy;
    const count = record.requestsInWindow;
    if (policy === undefined || count === undefined || count <= policy.limit) return undefined;
    const now = this.#now();
    const resetAt =
      ((record.requestWindow ?? Math.floor(now / policy.windowMs)) + 1) * policy.windowMs;
    const decision: RateLimitDecision = {
      allowed: false,
      limit: policy.limit,
      remaining: 0,
      resetMs: Math.max(1, resetAt - now),
      windowMs: policy.windowMs,
    };
    this.#requestRefusals.add(sessionId, decision, now);
    return requestRefused(decision);
  }

  /** Throws when the store holds `maxSessions`, once a sweep has removed what it could. */
  async roomForOneMore(): Promise<void> {
    if ((await this.#store.count()) < this.#maxSessions) return;
    await this.#sweeper.sweep();
    if ((await this.#store.count()) < this.#maxSessions) return;
    throw new CapacityError(1, 'The session store is full, retry later');
  }

  /**
   * The user's least recently active sessions that must end for one more to
   * fit under `maxSessionsPerUser` (none, mostly).
   */
  async overUserCap(userId: string, now: number): Promise<SessionRecord[]> {
    const records = await this.#store.listByUser(userId, now);
    const excess = records.length - this.#maxSessionsPerUser + 1;
    if (excess <= 0) return [];
    // listByUser is most recently active first: the oldest are at the end.
    return records.slice(-excess);
  }
}

function creationRefused(decision: RateLimitDecision): RateLimitedError {
  return new RateLimitedError(CREATION_REFUSED, Math.max(1, Math.ceil(decision.resetMs / 1000)), {
    name: 'create',
    ...decision,
  });
}

function requestRefused(decision: RateLimitDecision): RateLimitedError {
  return new RateLimitedError(
    'Too many requests from this session, retry later',
    Math.max(1, Math.ceil(decision.resetMs / 1000)),
    { name: 'session', ...decision },
  );
}
