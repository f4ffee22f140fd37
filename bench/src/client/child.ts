// Starts the P8 server (src/client/server.ts) in a child process and talks to it over IPC.
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientBenchRequest } from './server.js';

const here = dirname(fileURLToPath(import.meta.url));
const benchRoot = join(here, '..', '..');

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
  const child: ChildProcess = fork(join(here, 'server.ts'), [], {
    cwd: benchRoot,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('P8 server did not start')), 30_000);
    child.once('message', (message: { ready?: number }) => {
      clearTimeout(timer);
      if (message.ready === undefined) reject(new Error('P8 server: unexpected message'));
      else resolve(message.ready);
    });
    child.once('exit', (code) => reject(new Error(`P8 server exited with ${code}`)));
  });
  let nextId = 0;
  const request = <T>(cmd: ClientBenchRequest['cmd'], extra: Partial<ClientBenchRequest> = {}) =>
    new Promise<T>((resolve) => {
      nextId += 1;
      const id = nextId;
      const onMessage = (message: { id?: number } & T) => {
        if (message.id !== id) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.send({ ...extra, id, cmd });
    });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    restart: (downtimeMs) => request<RestartTimes>('restart', { downtimeMs }),
    publish: (round, count) => request<PublishResult>('publish', { round, count }),
    stats: () => request<ServerStats>('stats'),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
