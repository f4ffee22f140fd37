export { CloseCode } from '../protocol.js';
export { attachWebSocket, type WebSocketAttachment } from './attach.js';
export {
  type AttachWebSocketOptions,
  attachWebSocketDefaults,
  type CloseWebSocketOptions,
  type OriginCheck,
  type WebSocketContextOptions,
} from './options.js';
