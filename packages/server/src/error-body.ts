import { type ErrorBody, type ErrorCode, errorMessage } from './protocol.js';

/**
 * The JSON error body every Morgan answer outside tRPC sends, over HTTP and
 * on a refused WebSocket upgrade: `{"error":{"code","message"}}`.
 *
 * @example
 * errorBody(ErrorCode.SESSION_REQUIRED); // '{"error":{"code":"SESSION_REQUIRED","message":"…"}}'
 */
export function errorBody(code: ErrorCode, message: string = errorMessage(code)): string {
  const body: ErrorBody = { error: { code, message } };
  return JSON.stringify(body);
}
