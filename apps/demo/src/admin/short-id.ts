// How the dashboard shows a session id: shared by the admin routes, the
// dashboard's browser code and the e2e suite (so this file imports nothing).

/** Characters of a session id that the dashboard shows. */
export const SHORT_ID_LENGTH = 8;

/**
 * The first `SHORT_ID_LENGTH` characters of a session id and `…`: enough to
 * tell a handful of sessions apart on screen, far too little to use one (a
 * session id is a bearer credential).
 *
 * @example
 * shortSessionId('5b0f3c1e-8d2a-4f7b-9c3e-1a2b3c4d5e6f'); // '5b0f3c1e…'
 */
export function shortSessionId(sessionId: string): string {
  return `${sessionId.slice(0, SHORT_ID_LENGTH)}…`;
}
