// Test resource: records the commands Redis receives (MONITOR), to count the
// network round trips an operation costs. Commands that Lua scripts run
// inside Redis (source "lua") are not round trips and are left out.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export interface ObservedCommand {
  /** Lower-case command name (`evalsha`, `hmget`, ...). */
  name: string;
  args: string[];
  /** `host:port` of the client that sent it. */
  source: string;
}

export class CommandMonitor implements AsyncDisposable {
  readonly #admin: Redis;
  readonly #monitor: Redis;
  #seen: ObservedCommand[] = [];
  #waiting: { token: string; resolve: (source: string) => void } | undefined;

  private constructor(admin: Redis, monitor: Redis) {
    this.#admin = admin;
    this.#monitor = monitor;
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const [name = '', ...rest] = args;
      if (
        this.#waiting !== undefined &&
        name.toLowerCase() === 'echo' &&
        rest[0] === this.#waiting.token
      ) {
        this.#waiting.resolve(source);
        return;
      }
      if (source !== 'lua') this.#seen.push({ name: name.toLowerCase(), args: rest, source });
    });
  }

  static async open(url: string): Promise<CommandMonitor> {
    const admin = new Redis(url);
    const monitor = await new Redis(url).monitor();
    return new CommandMonitor(admin, monitor);
  }

  /** Runs `operation` and returns the commands clients sent while it ran. */
  async commandsOf(operation: () => Promise<unknown>): Promise<ObservedCommand[]> {
    await this.#mark();
    this.#seen = [];
    await operation();
    const markerSource = await this.#mark();
    const seen = this.#seen.filter((command) => command.source !== markerSource);
    this.#seen = [];
    return seen;
  }

  /** Sends an ECHO from the admin connection and waits until MONITOR shows it. */
  async #mark(): Promise<string> {
    const token = randomUUID();
    const seen = new Promise<string>((resolve) => {
      this.#waiting = { token, resolve };
    });
    await this.#admin.echo(token);
    const source = await seen;
    this.#waiting = undefined;
    return source;
  }

  async close(): Promise<void> {
    this.#monitor.disconnect();
    await this.#admin.quit();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
