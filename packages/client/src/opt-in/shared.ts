/**
 * One WebSocket per browser, shared by its tabs: pass `sharedConnection()`
 * as the client's `connection` option. Costs nothing in a bundle that does
 * not import it.
 *
 * @module \@morgan/session-client/shared
 */
export type { SharedConnectionPlugin } from '../plugins.js';
export { createMemoryLocks } from '../shared/locks.js';
export { sharedConnection } from '../shared/shared-socket.js';
