// The WebSocket side of the fuzz tests: plays one generated conversation on
// a fresh socket and records how it went (replies, close code), and judges
// tRPC replies the way the HTTP side judges answers.
import type { Socket } from 'node:net';
import { type RawData, WebSocket } from 'ws';
import { KNOWN_CODES } from './fuzz-server.js';

/** One message a client sends: text or binary. */
export type WsMessage = { text: string } | { binary: Uint8Array };

/** How a conversation went. */
export interface WsOutcome {
  /** The socket opened (the upgrade was accepted). */
  opened: boolean;
  /** Status of a refused upgrade. */
  refusedStatus?: number;
  replies: string[];
  /** Who closed first and with which code. */
  closedBy: 'server' | 'client' | 'none';
  closeCode: number;
}

const CLOSE_WAIT_MS = 3_000;

/**
 * Opens `url`, sends `messages` in order, then (unless the server closed)
 * a sentinel call with id `sentinel` and waits for its answer (or the
 * server's close), then closes with 1000 and waits for the close to complete.
 */
export async function converse(
  url: string,
  messages: readonly WsMessage[],
  sentinel: string,
): Promise<WsOutcome> {
  const socket = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
  const outcome: WsOutcome = { opened: false, replies: [], closedBy: 'none', closeCode: 0 };
  let clientClosing = false;
  socket.on('error', () => undefined);
  socket.on('unexpected-response', (_req, res) => {
    if (res.statusCode !== undefined) outcome.refusedStatus = res.statusCode;
    res.resume();
  });
  socket.on('message', (data: RawData) => outcome.replies.push(data.toString()));
  const closed = new Promise<void>((resolve) =>
    socket.once('close', (code) => {
      outcome.closeCode = code;
      outcome.closedBy = clientClosing ? 'client' : 'server';
      resolve();
    }),
  );
  const opened = await Promise.race([
    new Promise<boolean>((resolve) => socket.once('open', () => resolve(true))),
    closed.then(() => false),
  ]);
  if (!opened) return outcome;
  outcome.opened = true;
  for (const message of messages) {
    if (socket.readyState !== WebSocket.OPEN) break;
    if ('text' in message) socket.send(message.text);
    else socket.send(Buffer.from(message.binary), { binary: true });
  }
  if (socket.readyState === WebSocket.OPEN) {
    const answered = new Promise<void>((resolve) => {
      const onMessage = (data: RawData) => {
        if (!data.toString().includes(`"${sentinel}"`)) return;
        socket.off('message', onMessage);
        resolve();
      };
      socket.on('message', onMessage);
    });
    socket.send(
      JSON.stringify({ id: sentinel, method: 'query', params: { path: 'session.get', input: {} } }),
    );
    // An authenticated socket answers it; any other is closed by the server first.
    await Promise.race([answered, closed, delay(CLOSE_WAIT_MS)]);
  }
  if (socket.readyState === WebSocket.OPEN) {
    clientClosing = true;
    socket.close(1000);
  }
  await Promise.race([closed, delay(CLOSE_WAIT_MS)]);
  if (outcome.closedBy === 'none') socket.terminate();
  return outcome;
}

/** What is wrong with the replies: each one JSON, every error with a known code. */
export function judgeReplies(replies: readonly string[]): string[] {
  const problems: string[] = [];
  for (const reply of replies) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(reply);
    } catch {
      problems.push(`reply is not JSON: ${reply.slice(0, 200)}`);
      continue;
    }
    if (/\n\s+at |"stack"|node:internal/.test(reply)) problems.push('reply carries a stack trace');
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (typeof message !== 'object' || message === null || !('error' in message)) continue;
      const error = (message as { error: { json?: unknown } }).error;
      const data = ((error?.json ?? error) as { data?: { errorCode?: unknown } } | null)?.data;
      if (typeof data?.errorCode !== 'string' || !KNOWN_CODES.has(data.errorCode)) {
        problems.push(`error without a known code: ${reply.slice(0, 300)}`);
      }
    }
  }
  return problems;
}

/** A masked client frame of any length, or unmasked (which a server must refuse). */
export function anyFrame(first: number, payload: Uint8Array, masked: boolean): Buffer {
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([first, (masked ? 0x80 : 0) | length])
      : Buffer.from([first, (masked ? 0x80 : 0) | 126, length >> 8, length & 0xff]);
  if (!masked) return Buffer.concat([head, payload]);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([head, mask, body]);
}

/** The server's close code on a raw socket (1006 when it just ends), within `timeoutMs`. */
export function rawCloseCode(socket: Socket, timeoutMs = CLOSE_WAIT_MS): Promise<number> {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => resolve(0), timeoutMs);
    const done = (code: number) => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(code);
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2) {
        const opcode = (buffer[0] as number) & 0x0f;
        let length = (buffer[1] as number) & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return;
        if (opcode === 8) {
          done(length >= 2 ? buffer.readUInt16BE(offset) : 1005);
          return;
        }
        buffer = buffer.subarray(offset + length);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => done(1006));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
