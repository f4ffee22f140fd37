/**
 * Exactly-once mutations: pass `idempotencyKeys()` as the client's
 * `idempotencyKeys` option. Costs nothing in a bundle that does not import it.
 *
 * @module \@morgan/session-client/idempotency
 */
export { type IdempotencyKeysOptions, idempotencyKeys } from '../idempotency.js';
export type { IdempotencyKeysPlugin } from '../plugins.js';
