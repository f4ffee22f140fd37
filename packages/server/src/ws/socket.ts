import type { RawData, WebSocket } from 'ws';

/** `readyState` values, as `ws` (and the browser's WebSocket) number them. */
export const SocketState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

/**
 * What the layer uses of a socket: a tab's own `ws` socket (which has this
 * shape already) or a channel of a shared socket (`Channel`). Everything
 * above it (a connection's lifecycle, the tRPC protocol) works on this
 * interface and never asks which kind it has.
 */
export interface WireSocket {
  readonly readyState: number;
  /** Bytes queued for the client and not yet sent. */
  readonly bufferedAmount: number;
  /** Sends one text message. */
  send(text: string): void;
  ping(): void;
  /** Starts the close handshake with a code the client sees. */
  close(code: number, reason: string): void;
  /** Cuts the socket without a handshake. */
  terminate(): void;
}

/**
 * What a socket tells the one that serves it. A text message arrives as a
 * string; a binary one as `null` (the tRPC protocol is JSON text, so its
 * bytes never matter).
 */
export interface SocketListener {
  received(text: string | null): void;
  /** A pong arrived. */
  alive(): void;
  /** The socket closed (after its close handshake, or cut). */
  closed(): void;
}

/** Feeds a `ws` socket's events to `listener`. */
export function listen(ws: WebSocket, listener: SocketListener): void {
  ws.on('error', ignoreError);
  ws.on('message', (data, isBinary) => listener.received(isBinary ? null : textOf(data)));
  ws.on('pong', () => listener.alive());
  ws.on('close', () => listener.closed());
}

/** `ws` closes the socket itself on a frame it refuses (1002, 1007, 1009); nothing may crash. */
function ignoreError(): void {}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
