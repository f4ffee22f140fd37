// P11 helpers: one browser's tabs over one shared socket (`/trpc?mux=1`), as
// the SDK's `connection: 'shared'` leader carries them: one real WebSocket,
// one channel per tab, each with its own session's connectionParams and,
// optionally, its `session.events` subscription; the envelopes are those of
// docs/protocol.md ("Shared sockets").
import { WebSocket } from 'ws';

/** A browser with `tabs` tabs sharing one socket. */
export interface SharedBrowser {
  /** Opens every tab's `session.events` subscription; resolves once all have started. */
  subscribe(): Promise<void>;
  pings(): number;
  close(): void;
}

export async function sharedBrowser(
  port: number,
  sessionIds: readonly string[],
): Promise<SharedBrowser> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/trpc?mux=1`);
  let pings = 0;
  socket.on('ping', () => {
    pings += 1;
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', (code) => reject(new Error(`closed with ${code} before open`)));
  });
  const send = (c: number, t: string, d?: object) =>
    socket.send(JSON.stringify(d === undefined ? { c, t } : { c, t, d: JSON.stringify(d) }));
  for (const [i, sessionId] of sessionIds.entries()) {
    send(i + 1, 'o');
    send(i + 1, 'm', { method: 'connectionParams', data: { sessionId } });
  }
  return {
    pings: () => pings,
    close: () => socket.terminate(),
    subscribe: () =>
      new Promise<void>((resolve) => {
        const started = new Set<number>();
        const onMessage = (data: Buffer) => {
          const envelope = JSON.parse(data.toString()) as { c: number; t: string; d?: string };
          if (envelope.t !== 'm' || envelope.d === undefined) return;
          const message = JSON.parse(envelope.d) as { id?: number; result?: { type?: string } };
          if (message.id !== 1 || message.result?.type !== 'started') return;
          started.add(envelope.c);
          if (started.size < sessionIds.length) return;
          socket.off('message', onMessage);
          resolve();
        };
        socket.on('message', onMessage);
        for (let c = 1; c <= sessionIds.length; c += 1) {
          send(c, 'm', {
            id: 1,
            method: 'subscription',
            params: { path: 'session.events', input: {} },
          });
        }
      }),
  };
}
