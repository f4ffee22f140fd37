/**
 * The WebSocket adapter: `attachWebSocket` serves a tRPC router over `ws` on
 * the HTTP server's port, authenticates each socket's session from its
 * `connectionParams`, sends heartbeats and closes sockets of ended sessions.
 *
 * @module \@morgan/session-server/ws
 */
export { attachWebSocket, type WebSocketAttachment } from './attach.js';
export {
  type AttachWebSocketOptions,
  attachWebSocketDefaults,
  type CloseWebSocketOptions,
  type WebSocketContextOptions,
  type WebSocketErrorInfo,
} from './options.js';
