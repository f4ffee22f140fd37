/**
 * One WebSocket per browser, shared by its tabs: pass `sharedConnection()`
 * as the client's `connection` option. Costs nothing in a bundle that does
 * not import it.
 *
 * @module \@morgan/session-client/shared
 */
export type { SharedConnectionPlugin } from '../plugins.js';
export { createMemoryLocks, type LockManagerLike } from '../shared/locks.js';
export type { BroadcastChannelConstructor, BroadcastChannelLike } from '../shared/messages.js';
export { sharedConnection } from '../shared/shared-socket.js';
