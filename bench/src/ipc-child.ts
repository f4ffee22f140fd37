// A benchmark server in a child process (node + tsx) that reports its port
// with `{ ready: port }` and answers `{ id, cmd, ... }` requests over IPC.
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Options of `startIpcChild`. */
export interface IpcChildOptions {
  /** Script to run, an absolute path. */
  script: string;
  /** Arguments after the script. @default [] */
  args?: string[];
  /** Node flags before `--import tsx`. @default [] */
  nodeFlags?: string[];
  /** Name used in error messages. */
  name: string;
}

/** A child server and its request channel. */
export interface IpcChild<TCommand extends string> {
  readonly port: number;
  readonly pid: number;
  request<T>(cmd: TCommand, extra?: Record<string, unknown>): Promise<T>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `script` and waits (up to 30 s) for its `{ ready: port }` message. */
export async function startIpcChild<TCommand extends string>(
  options: IpcChildOptions,
): Promise<IpcChild<TCommand>> {
  const { script, args = [], nodeFlags = [], name } = options;
  const child: ChildProcess = fork(script, args, {
    cwd: benchRoot,
    execArgv: [...nodeFlags, '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} server did not start`)), 30_000);
    child.once('message', (message: { ready?: number }) => {
      clearTimeout(timer);
      if (message.ready === undefined) reject(new Error(`${name} server: unexpected message`));
      else resolve(message.ready);
    });
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${code}`)));
  });
  let nextId = 0;
  const request = <T>(cmd: TCommand, extra: Record<string, unknown> = {}) =>
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
  return {
    port,
    pid: child.pid ?? -1,
    request,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
