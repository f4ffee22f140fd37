// Test resource: records the commands Redis receives (MONITOR), to count the
// network round trips an operation costs. Commands that Lua scripts run
// inside Redis (source "lua") are not round trips and are left out.
//
// MONITOR runs on a raw socket of its own rather than an ioredis client in
// monitor mode: ioredis switches to "monitoring" one microtask after the OK,
// so a monitor line that arrives in the same TCP chunk as the OK (likely on a
// busy machine, or a Redis shared with other tests) is taken for a reply and
// fails with "Command queue state error". Here the socket sends MONITOR, waits
// for +OK, and every later line is monitor output.
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { RedisClient } from '../redis/connection.js';

export interface ObservedCommand {
  /** Lower-case command name (`evalsha`, `hmget`, ...). */
  name: string;
  args: string[];
  /** `host:port` of the client that sent it. */
  source: string;
}

/**
 * Which commands count as the operation's: those sent over one of `from`'s
 * connections, and those naming a key under `keyPrefix` (whoever sent them).
 * Everything else (other clients of a shared Redis, other stores of the test)
 * is left out. At least one of the two is required.
 */
export interface CommandFilter {
  /** ioredis clients whose commands count (matched by their socket's local address). */
  from?: readonly RedisClient[];
  /** A command that names a key or channel starting with this counts. */
  keyPrefix?: string;
}

const MARKER_TIMEOUT_MS = 15_000;

export class CommandMonitor implements AsyncDisposable {
  readonly #admin: Redis;
  readonly #socket: Socket;
  /** Replies still due to the set-up commands (AUTH, SELECT, MONITOR); 0 once monitoring. */
  #setupReplies: number;
  readonly #ready: Promise<void>;
  #seen: ObservedCommand[] = [];
  #waiting: { token: string; resolve: () => void } | undefined;

  private constructor(url: string) {
    const target = new URL(url);
    if (target.protocol !== 'redis:')
      throw new Error(`CommandMonitor speaks plain redis:// only, not ${url}`);
    this.#admin = new Redis(url);
    const setup = setupCommands(target);
    this.#setupReplies = setup.length;
    this.#socket = connect({
      host: target.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: Number(target.port || 6379),
    });
    this.#socket.setEncoding('utf8');
    this.#socket.setNoDelay(true);
    this.#ready = new Promise((resolve, reject) => {
      let buffer = '';
      const onError = (error: Error) => {
        this.#socket.destroy();
        reject(error);
      };
      this.#socket.once('error', onError);
      this.#socket.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\r\n');
        while (end !== -1) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\r\n');
          if (this.#setupReplies === 0) {
            this.#line(line);
          } else if (line.startsWith('+OK')) {
            this.#setupReplies -= 1;
            if (this.#setupReplies === 0) {
              this.#socket.off('error', onError);
              this.#socket.on('error', () => {});
              resolve();
            }
          } else {
            onError(new Error(`MONITOR set-up failed: ${line}`));
            return;
          }
        }
      });
    });
    this.#socket.once('connect', () => this.#socket.write(setup.map(encodeCommand).join('')));
  }

  /** Connects, starts MONITOR and resolves once Redis confirmed it (+OK). */
  static async open(url: string): Promise<CommandMonitor> {
    const monitor = new CommandMonitor(url);
    try {
      await Promise.all([monitor.#ready, monitor.#admin.ping()]);
    } catch (error) {
      monitor.#socket.destroy();
      monitor.#admin.disconnect();
      throw error;
    }
    return monitor;
  }

  /** Runs `operation` and returns the commands that `filter` selects, sent while it ran. */
  async commandsOf(
    operation: () => Promise<unknown>,
    filter: CommandFilter,
  ): Promise<ObservedCommand[]> {
    const counts = matcher(filter);
    await this.#mark();
    this.#seen = [];
    await operation();
    await this.#mark();
    const seen = this.#seen.filter(counts);
    this.#seen = [];
    return seen;
  }

  #line(line: string): void {
    if (!line.startsWith('+')) return; // an error line: the socket is closing
    const command = parseMonitorLine(line.slice(1));
    if (command === undefined || command.source === 'lua') return;
    const waiting = this.#waiting;
    if (waiting !== undefined && command.name === 'echo' && command.args[0] === waiting.token) {
      this.#waiting = undefined;
      waiting.resolve();
      return;
    }
    this.#seen.push(command);
  }

  /**
   * Sends an ECHO from the admin connection and waits until MONITOR shows it:
   * Redis reports commands in the order it runs them, so every command run
   * before the marker has been seen by then.
   */
  async #mark(): Promise<void> {
    const token = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const seen = new Promise<void>((resolve, reject) => {
      this.#waiting = { token, resolve };
      timer = setTimeout(
        () => reject(new Error(`MONITOR did not show marker ${token} in ${MARKER_TIMEOUT_MS} ms`)),
        MARKER_TIMEOUT_MS,
      );
    });
    try {
      await this.#admin.echo(token);
      await seen;
    } finally {
      clearTimeout(timer);
      this.#waiting = undefined;
    }
  }

  async close(): Promise<void> {
    this.#socket.destroy();
    await this.#admin.quit();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function matcher(filter: CommandFilter): (command: ObservedCommand) => boolean {
  const { keyPrefix } = filter;
  const from = filter.from ?? [];
  if (from.length === 0 && (keyPrefix === undefined || keyPrefix === '')) {
    throw new Error('CommandMonitor.commandsOf needs a filter: `from` clients or a `keyPrefix`');
  }
  return (command) => {
    if (keyPrefix !== undefined && keyPrefix !== '') {
      if (command.args.some((arg) => arg.startsWith(keyPrefix))) return true;
    }
    return from.some((client) => sameEndpoint(command.source, client));
  };
}

/** Whether MONITOR's `host:port` source is the local end of `client`'s socket. */
function sameEndpoint(source: string, client: RedisClient): boolean {
  // A cluster client has a socket per node: MONITOR watches one Redis.
  if (!(client instanceof Redis)) return false;
  const socket = client.stream as Socket | undefined;
  if (socket?.localPort === undefined) return false;
  const colon = source.lastIndexOf(':');
  const host = source.slice(0, colon).replace(/^\[|\]$/g, '');
  return Number(source.slice(colon + 1)) === socket.localPort && host === socket.localAddress;
}

/** AUTH and SELECT as the URL asks, then MONITOR: each answers +OK. */
function setupCommands(target: URL): string[][] {
  const password = decodeURIComponent(target.password);
  const user = decodeURIComponent(target.username);
  const db = target.pathname.replace(/^\//, '');
  const setup: string[][] = [];
  if (password !== '') setup.push(user !== '' ? ['AUTH', user, password] : ['AUTH', password]);
  if (db !== '' && db !== '0') setup.push(['SELECT', db]);
  setup.push(['MONITOR']);
  return setup;
}

function encodeCommand(args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/**
 * Parses one MONITOR line: `1700000000.123456 [0 127.0.0.1:51234] "evalsha" "ab" "1"`
 * (arguments quoted as Redis' sdscatrepr writes them).
 */
export function parseMonitorLine(line: string): ObservedCommand | undefined {
  const open = line.indexOf('[');
  const close = line.indexOf(']', open);
  if (open === -1 || close === -1) return undefined;
  const where = line.slice(open + 1, close).split(' ');
  const source = where.slice(1).join(' ');
  const args: string[] = [];
  let i = close + 1;
  while (i < line.length) {
    if (line[i] !== '"') {
      i += 1;
      continue;
    }
    let arg = '';
    i += 1;
    while (i < line.length && line[i] !== '"') {
      const char = line[i] as string;
      if (char !== '\\') {
        arg += char;
        i += 1;
        continue;
      }
      const next = line[i + 1] ?? '';
      if (next === 'x') {
        arg += String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 4), 16));
        i += 4;
        continue;
      }
      arg += ESCAPES[next] ?? next;
      i += 2;
    }
    args.push(arg);
    i += 1;
  }
  const [name = '', ...rest] = args;
  return { name: name.toLowerCase(), args: rest, source };
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' };
