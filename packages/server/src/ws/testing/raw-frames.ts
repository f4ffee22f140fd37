import { randomBytes } from 'node:crypto';
import { type Socket, connect as tcpConnect } from 'node:net';

/** A TCP socket that completed a WebSocket handshake by hand, to send frames no client library would. */
export async function rawHandshake(port: number, path = '/trpc'): Promise<Socket> {
  const socket = tcpConnect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (head.startsWith('HTTP/1.1 101')) resolve();
      else reject(new Error(head.split('\r\n')[0]));
    };
    socket.on('data', onData);
  });
  return socket;
}

/** A masked client frame. `first` is the first byte (FIN, RSV bits, opcode). */
export function frame(first: number, payload: Buffer): Buffer {
  if (payload.length > 125) throw new Error('short frames only');
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number)));
  return Buffer.concat([Buffer.from([first, 0x80 | payload.length]), mask, masked]);
}

/** The code of the close frame the server sends (or 1006 if the connection just ends). */
export function serverCloseCode(socket: Socket): Promise<number> {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      // Skip whole frames until a close frame (opcode 8) with its code.
      while (buffer.length >= 2) {
        const opcode = (buffer[0] as number) & 0x0f;
        const length = (buffer[1] as number) & 0x7f;
        if (length > 125 || buffer.length < 2 + length) return;
        if (opcode === 8) {
          socket.off('data', onData);
          resolve(length >= 2 ? buffer.readUInt16BE(2) : 1005);
          return;
        }
        buffer = buffer.subarray(2 + length);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(1006));
  });
}
