// Starts the P8 server (src/client/server.ts) in a child process and talks to it over IPC.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIpcChild } from '../ipc-child.js';
import type { ClientBenchRequest } from './server.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface RestartTimes {
  /** When the server began closing sockets (1001), epoch ms. */
  stoppedAt: number;
  /** When it listened again on the same port, epoch ms. */
  listeningAt: number;
}

export interface PublishResult {
  sessions: number;
  firstSeq: number;
  lastSeq: number;
}

export interface ServerStats {
  sessions: number;
  sockets: number;
  /** WebSocket upgrade requests since the last restart, epoch ms. */
  upgrades: number[];
}

/** The P8 server running in a child process. */
export interface ClientBenchServer extends AsyncDisposable {
  readonly url: string;
  readonly pid: number;
  restart(downtimeMs: number): Promise<RestartTimes>;
  publish(round: number, count: number): Promise<PublishResult>;
  stats(): Promise<ServerStats>;
  stop(): Promise<void>;
}

export async function startClientBenchServer(): Promise<ClientBenchServer> {
  const child = await startIpcChild<ClientBenchRequest['cmd']>({
    script: join(here, 'server.ts'),
    name: 'P8',
  });
  const { request, stop } = child;
  return {
    url: `http://127.0.0.1:${child.port}`,
    pid: child.pid,
    restart: (downtimeMs) => request<RestartTimes>('restart', { downtimeMs }),
    publish: (round, count) => request<PublishResult>('publish', { round, count }),
    stats: () => request<ServerStats>('stats'),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
