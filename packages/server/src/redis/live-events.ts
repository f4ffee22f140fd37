import {
  compareEventIds,
  GAP_EVENT_TYPE,
  type GapEventData,
  type ReadAfterResult,
  type SessionEvent,
  type SessionEventListener,
} from '../events/event-log.js';
import type { JsonValue } from '../metadata.js';
import { ClusterChannels } from './cluster-channels.js';
import { isCluster, type RedisClient } from './connection.js';
import { type Channels, SessionChannels } from './session-channels.js';

/** How `LiveEvents` names channels and reads the buffer. */
export interface LiveEventsHooks {
  channelOf(sessionId: string): string;
  read(sessionId: string, lastEventId: string | undefined): Promise<ReadAfterResult>;
}

interface Subscriber {
  readonly listener: SessionEventListener;
  readonly onDrop: (() => void) | undefined;
}

interface Session {
  readonly subscribers: Set<Subscriber>;
  readonly unlisten: () => void;
  /** Newest id delivered to this node's subscribers. */
  lastId: string | undefined;
  /** Live messages held while missed events are fetched after a reconnect. */
  held: string[] | undefined;
}

/** The message `PUBLISH`ed for each appended event (see event-log-scripts.ts). */
interface WireEvent {
  i: string;
  a: number;
  t: string;
  d: JsonValue;
}

/** Fetch attempts after a reconnect before live delivery goes on without the missed events. */
const CATCH_UP_ATTEMPTS = 20;
const CATCH_UP_RETRY_MS = 250;

/**
 * This node's subscribers of session events, fed from Redis pub/sub in id
 * order. After the pub/sub connection comes back, events published while it
 * was gone are read from the buffer and delivered before newer live ones.
 */
export class LiveEvents {
  readonly channelOf: (sessionId: string) => string;
  readonly #client: RedisClient;
  readonly #read: LiveEventsHooks['read'];
  readonly #sessions = new Map<string, Session>();
  readonly #sessionByChannel = new Map<string, string>();
  readonly #sleepers = new Set<() => void>();
  #channels: Channels | undefined;
  #closed = false;

  constructor(client: RedisClient, hooks: LiveEventsHooks) {
    this.#client = client;
    this.channelOf = hooks.channelOf;
    this.#read = hooks.read;
  }

  subscribe(sessionId: string, listener: SessionEventListener, onDrop?: () => void): () => void {
    let session = this.#sessions.get(sessionId);
    if (session === undefined) {
      const channel = this.channelOf(sessionId);
      this.#channels ??= isCluster(this.#client)
        ? new ClusterChannels(this.#client, (channels) => this.#resume(channels))
        : new SessionChannels(this.#client, (channels) => this.#resume(channels));
      const created: Session = {
        subscribers: new Set(),
        unlisten: this.#channels.add(channel, (message) => this.#receive(created, message)),
        lastId: undefined,
        held: undefined,
      };
      session = created;
      this.#sessions.set(sessionId, session);
      this.#sessionByChannel.set(channel, sessionId);
    }
    const subscriber: Subscriber = { listener, onDrop };
    session.subscribers.add(subscriber);
    const current = session;
    return () => {
      if (!current.subscribers.delete(subscriber) || current.subscribers.size > 0) return;
      this.#forget(sessionId, current);
    };
  }

  /** Resolves once the session's channel is subscribed (at once without subscribers here). */
  acknowledged(sessionId: string): Promise<void> {
    if (this.#channels === undefined || !this.#sessions.has(sessionId)) return Promise.resolve();
    return this.#channels.acknowledged(this.channelOf(sessionId));
  }

  /** Ends the session's subscriptions on this node, calling each `onDrop` once. */
  drop(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    this.#forget(sessionId, session);
    for (const { onDrop } of session.subscribers) {
      try {
        onDrop?.();
      } catch {
        // A failing subscriber must not stop the others from ending.
      }
    }
  }

  /** Sessions with subscribers on this node. */
  get size(): number {
    return this.#sessions.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#sessions.clear();
    this.#sessionByChannel.clear();
    for (const wake of [...this.#sleepers]) wake();
    await this.#channels?.close();
  }

  #forget(sessionId: string, session: Session): void {
    if (this.#sessions.get(sessionId) !== session) return;
    this.#sessions.delete(sessionId);
    this.#sessionByChannel.delete(this.channelOf(sessionId));
    session.unlisten();
  }

  #receive(session: Session, message: string): void {
    if (session.held !== undefined) {
      session.held.push(message);
      return;
    }
    let wire: WireEvent;
    try {
      wire = JSON.parse(message) as WireEvent;
    } catch {
      return;
    }
    if (session.lastId !== undefined && compareEventIds(wire.i, session.lastId) <= 0) return;
    session.lastId = wire.i;
    let first = true;
    this.#deliver(session, () => {
      const parsed = first ? wire : (JSON.parse(message) as WireEvent);
      first = false;
      return { id: parsed.i, type: parsed.t, data: parsed.d, at: parsed.a };
    });
  }

  #deliver(session: Session, event: () => SessionEvent): void {
    for (const { listener } of [...session.subscribers]) {
      try {
        listener(event());
      } catch {
        // A failing listener must not stop delivery to the others.
      }
    }
  }

  #resume(channels: string[]): void {
    for (const channel of channels) {
      const sessionId = this.#sessionByChannel.get(channel);
      const session = sessionId === undefined ? undefined : this.#sessions.get(sessionId);
      if (sessionId !== undefined && session !== undefined && session.held === undefined) {
        void this.#catchUp(sessionId, session);
      }
    }
  }

  /** Delivers what was appended after `session.lastId`, then the live messages held meanwhile. */
  async #catchUp(sessionId: string, session: Session): Promise<void> {
    session.held = [];
    for (let attempt = 1; attempt <= CATCH_UP_ATTEMPTS; attempt += 1) {
      if (this.#closed || this.#sessions.get(sessionId) !== session) return;
      try {
        this.#deliverMissed(session, await this.#read(sessionId, session.lastId));
        break;
      } catch {
        await this.#sleep(CATCH_UP_RETRY_MS);
      }
    }
    const held = session.held;
    session.held = undefined;
    for (const message of held) this.#receive(session, message);
  }

  #deliverMissed(session: Session, missed: ReadAfterResult): void {
    const lost = missed.lostThroughId;
    if (missed.gap && lost !== undefined && isNewer(lost, session.lastId)) {
      const data: GapEventData = { lastEventId: session.lastId ?? '0-0', lostThroughId: lost };
      session.lastId = lost;
      this.#deliver(session, () => ({
        id: lost,
        type: GAP_EVENT_TYPE,
        data: { ...data },
        at: Date.now(),
      }));
    }
    for (const event of missed.events) {
      if (!isNewer(event.id, session.lastId)) continue;
      session.lastId = event.id;
      let first = true;
      this.#deliver(session, () => {
        const copy = first ? event : { ...event, data: structuredClone(event.data) };
        first = false;
        return copy;
      });
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.#sleepers.add(wake);
    });
  }
}

function isNewer(id: string, than: string | undefined): boolean {
  return than === undefined || compareEventIds(id, than) > 0;
}
