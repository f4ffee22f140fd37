/**
 * Who a request serves, for admission at the edge of capacity: `control`
 * (session control: `session.create`, `session.heartbeat` and the other
 * Morgan session procedures) is admitted before `app` (everything else).
 * Health, readiness and metrics take no slot at all.
 */
export type RequestClass = 'control' | 'app';

/** Morgan's session procedures live under this router key (SPEC: merged under `session`). */
const CONTROL_PREFIX = 'session.';

/**
 * Class of one tRPC call by its procedure path (`session.heartbeat` →
 * `control`). Used for calls over WebSocket, where each call is admitted on
 * its own.
 *
 * @example
 * procedureClass('session.heartbeat'); // 'control'
 * procedureClass('chat.send'); // 'app'
 */
export function procedureClass(path: string): RequestClass {
  return path.startsWith(CONTROL_PREFIX) ? 'control' : 'app';
}

/**
 * Class of a tRPC HTTP request from the part of its path after the tRPC
 * prefix: one procedure (`session.heartbeat`) or a batch
 * (`session.get,session.heartbeat`). A batch is `control` only when every
 * call in it is, so that app calls cannot ride on a heartbeat. Reads the
 * path only (from index `from`, so a caller need not cut it): no query
 * string, no body.
 *
 * @example
 * batchPathClass('session.get,session.heartbeat'); // 'control'
 * batchPathClass('session.get,chat.send'); // 'app'
 */
export function batchPathClass(procedures: string, from = 0): RequestClass {
  let start = from;
  for (;;) {
    if (!procedures.startsWith(CONTROL_PREFIX, start)) return 'app';
    const comma = procedures.indexOf(',', start);
    if (comma === -1) return 'control';
    start = comma + 1;
  }
}
