/**
 * What the tabs of a browser say to each other over BroadcastChannel when
 * they share one socket (`connection: 'shared'`); see docs/protocol.md.
 *
 * On the shared channel (`morgan.shared:<ws url>`), heard by the leader:
 * `open`, `send`, `close` from the tabs; heard by the tabs: `leader` (a tab
 * was elected and relays from now on) and `resign` (the leader is going).
 * On each tab's own channel (`<name>/<tab id>`), from the leader: `opened`,
 * `msg`, `closed`.
 */
export type UpstreamMessage =
  | { k: 'open'; v: string; tab: string }
  | { k: 'send'; v: string; d: string }
  | { k: 'close'; v: string }
  | { k: 'leader'; l: string }
  | { k: 'resign'; l: string };

export type DownstreamMessage =
  | { k: 'opened'; v: string; l: string }
  | { k: 'msg'; v: string; d: string }
  | { k: 'closed'; v: string; code: number; reason: string };

/** The part of `BroadcastChannel` used here. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** A `BroadcastChannel` constructor: the platform's (browsers, Node 20) or a compatible one. */
export type BroadcastChannelConstructor = new (name: string) => BroadcastChannelLike;

/**
 * Close code of a tab's socket when the leader that carried it went: the
 * SDK reconnects at once (no backoff) through the next leader. Never sent
 * by a server.
 */
export const HANDOVER_CLOSE_CODE = 4001;

/** Reason of that close. */
export const HANDOVER_REASON = 'LEADER_CHANGED';

/** A random id for a tab, a channel or a leader. */
export function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID !== undefined) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** The shared channel's name for a WebSocket URL. */
export function sharedChannelName(wsUrl: string): string {
  return `morgan.shared:${wsUrl}`;
}

/** A tab's own channel. */
export function tabChannelName(name: string, tab: string): string {
  return `${name}/tab/${tab}`;
}

/** The lock a tab holds while it lives; the leader waits on it to learn the tab is gone. */
export function tabLockName(name: string, tab: string): string {
  return `${name}/alive/${tab}`;
}

/** The lock whose holder leads. */
export function leaderLockName(name: string): string {
  return `${name}/leader`;
}
