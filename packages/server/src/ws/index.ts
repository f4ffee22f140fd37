export { attachWebSocket, type WebSocketAttachment } from './attach.js';
export {
  type AttachWebSocketOptions,
  attachWebSocketDefaults,
  type CloseWebSocketOptions,
  type OriginCheck,
  WsCloseCode,
} from './options.js';
