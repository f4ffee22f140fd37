// Test resource: a real nginx in front of several servers, as operators run
// Morgan nodes (round robin, no sticky sessions, WebSocket upgrades proxied).
// Its config, pid file, logs and temp paths live in a temp dir of its own, so
// it runs as root or not without touching /etc or /var; it is stopped by PID.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** Options of `startNginx`. */
export interface StartNginxOptions {
  /** The servers behind it, as `host:port` (e.g. `127.0.0.1:4001`). */
  upstreams: readonly string[];
  /** Connections one worker may hold (clients and upstreams together). @default 4096 */
  workerConnections?: number;
  /**
   * nginx's `max_fails` of each server: refused or failed connections within
   * `failTimeoutSeconds` after which nginx stops choosing it for that long.
   * 0 never marks a server down (a refused connection still goes on to the
   * next server). Why 0: nginx tries a marked server again with one request
   * and counts it back only when that request ends, which for a WebSocket is
   * when the socket closes; with nginx's own `max_fails=1`, a rolling restart
   * faster than `fail_timeout` marks every server down for upgrades, and they
   * get 502 "no live upstreams" while the probing sockets stay open.
   * @default 0
   */
  maxFails?: number;
  /** nginx's `fail_timeout`, in seconds. @default 10 (nginx's) */
  failTimeoutSeconds?: number;
  /**
   * Refuse every WebSocket upgrade with 403 (`if ($http_upgrade) { return 403; }`),
   * as a proxy or firewall that does not pass WebSockets does.
   * @default false
   */
  refuseWebSocket?: boolean;
  /**
   * nginx's `proxy_read_timeout`, in seconds: an upstream response (a
   * stream) that sends nothing for that long is cut.
   * @default 60 (nginx's)
   */
  proxyReadTimeoutSeconds?: number;
  /**
   * Rewrite `Host` to the upstream group's name and pass the client's host
   * in `X-Forwarded-Host`, as many load balancers do; otherwise `Host` is
   * passed through unchanged.
   * @default false
   */
  forwardHost?: boolean;
  /** How long `startNginx` waits for the port to answer. @default 10_000 */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before it sends SIGKILL. @default 5_000 */
  stopTimeoutMs?: number;
}

/** Defaults of the optional `StartNginxOptions`. */
export const nginxDefaults = {
  workerConnections: 4096,
  maxFails: 0,
  failTimeoutSeconds: 10,
  refuseWebSocket: false,
  proxyReadTimeoutSeconds: 60,
  forwardHost: false,
  startTimeoutMs: 10_000,
  stopTimeoutMs: 5_000,
} as const satisfies Omit<Required<StartNginxOptions>, 'upstreams'>;

/** One finished request in nginx's access log. */
export interface AccessLogEntry {
  /** When it finished, epoch ms. */
  at: number;
  status: number;
  /**
   * The upstreams tried in turn (`host:port`); nginx names the group
   * (`morgan_http`, `morgan_ws`) instead when none was live.
   */
  upstreams: string[];
  method: string;
  uri: string;
  /** True for a WebSocket upgrade. */
  webSocket: boolean;
}

/** A running nginx owned by one test or benchmark. */
export interface NginxServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** PID of the master process, undefined once stopped. */
  readonly pid: number | undefined;
  /** The temp dir with `nginx.conf`, `error.log` and `access.log`. */
  readonly dir: string;
  /** The requests nginx has finished so far (a WebSocket once it closed), oldest first. */
  accessLog(): AccessLogEntry[];
  /** Stops nginx (SIGTERM to the master, SIGKILL past `stopTimeoutMs`) and removes its dir. */
  stop(): Promise<void>;
}

/**
 * Starts nginx on a free loopback port in front of `upstreams`, once its
 * port accepts connections. HTTP requests take turns over the upstreams;
 * WebSocket upgrades take turns of their own over the same upstreams (so N
 * sockets spread evenly whatever number of plain requests come between). A
 * request that a server refuses goes on to the next one; servers are not
 * marked down unless `maxFails` says so. Proxy buffering stays nginx's
 * default (on); `X-Forwarded-For` carries the client's address. With
 * `refuseWebSocket` every upgrade gets 403, as behind a proxy that passes
 * no WebSockets.
 *
 * @example
 * await using nginx = await startNginx({ upstreams: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
 * await fetch(`${nginx.url}/health`);
 */
export async function startNginx(options: StartNginxOptions): Promise<NginxServer> {
  const settings = { ...nginxDefaults, ...options };
  if (settings.upstreams.length === 0) throw new Error('startNginx needs at least one upstream');
  for (const upstream of settings.upstreams) {
    if (!/^[\w.-]+:\d+$/.test(upstream)) throw new Error(`upstream ${upstream} is not host:port`);
  }
  const binary = nginxBinary();
  const dir = mkdtempSync(join(tmpdir(), 'morgan-nginx-'));
  // Workers run as `nobody` when the master is root: they must reach the temp paths.
  chmodSync(dir, 0o755);
  let child: ChildProcess | undefined;
  let port = 0;
  try {
    for (let attempt = 0; child === undefined; attempt += 1) {
      port = await freePort();
      writeFileSync(join(dir, 'nginx.conf'), nginxConfig({ ...settings, dir, port }));
      try {
        child = await spawnNginx(binary, dir, port, settings.startTimeoutMs);
      } catch (error) {
        if (attempt >= 3 || !/Address already in use/.test(String(error))) throw error;
      }
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const master = child;
  const killOnExit = () => master.kill('SIGTERM');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (master.exitCode === null && master.signalCode === null) {
        const workers = childPids(master.pid);
        const exited = new Promise<void>((resolve) => master.once('exit', () => resolve()));
        master.kill('SIGTERM'); // fast shutdown: workers close their connections and exit
        const timer = setTimeout(() => {
          master.kill('SIGKILL');
          for (const pid of workers) killQuietly(pid);
        }, settings.stopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get pid() {
      return master.exitCode === null && master.signalCode === null ? master.pid : undefined;
    },
    dir,
    accessLog: () => {
      const file = join(dir, 'access.log');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(parseAccessLine);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

interface ConfigInput {
  upstreams: readonly string[];
  workerConnections: number;
  maxFails: number;
  failTimeoutSeconds: number;
  refuseWebSocket: boolean;
  proxyReadTimeoutSeconds: number;
  forwardHost: boolean;
  dir: string;
  port: number;
}

/** The whole nginx.conf: one worker (so turns are exact), every path inside `dir`. */
export function nginxConfig(input: ConfigInput): string {
  const { upstreams, workerConnections, maxFails, failTimeoutSeconds, dir, port } = input;
  const refusal = input.refuseWebSocket
    ? `      # WebSockets do not pass this proxy.
      if ($http_upgrade) {
        return 403;
      }
`
    : '';
  const servers = upstreams
    .map(
      (upstream) =>
        `    server ${upstream} max_fails=${maxFails} fail_timeout=${failTimeoutSeconds}s;`,
    )
    .join('\n');
  return `# Written by @morgan/test-support startNginx; removed with this dir on stop().
worker_processes 1;
worker_rlimit_nofile ${workerConnections * 2 + 64};
pid ${dir}/nginx.pid;
lock_file ${dir}/nginx.lock;
error_log ${dir}/error.log notice;

events {
  worker_connections ${workerConnections};
}

http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format morgan '$msec|$status|$upstream_addr|$request_method|$request_uri|$http_upgrade';
  access_log ${dir}/access.log morgan;

  upstream morgan_http {
${servers}
  }
  # The same servers: upgrades take turns of their own.
  upstream morgan_ws {
${servers}
  }
  map $http_upgrade $morgan_upstream {
    default morgan_ws;
    '' morgan_http;
  }
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }

  server {
    listen 127.0.0.1:${port};
    location / {
${refusal}      proxy_pass http://$morgan_upstream;
      proxy_read_timeout ${input.proxyReadTimeoutSeconds}s;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
${
  input.forwardHost
    ? '      proxy_set_header Host $proxy_host;\n      proxy_set_header X-Forwarded-Host $http_host;\n'
    : '      proxy_set_header Host $http_host;\n'
}      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

/** One line of the `morgan` log format. */
function parseAccessLine(line: string): AccessLogEntry {
  const [msec = '0', status = '0', upstreams = '', method = '', uri = '', upgrade = ''] =
    line.split('|');
  return {
    at: Math.round(Number(msec) * 1000),
    status: Number(status),
    upstreams: upstreams === '-' || upstreams === '' ? [] : upstreams.split(/\s*[,:]\s+/),
    method,
    uri,
    webSocket: upgrade.toLowerCase() === 'websocket',
  };
}

/** Spawns the master in the foreground; resolves once the port accepts connections. */
async function spawnNginx(
  binary: string,
  dir: string,
  port: number,
  timeoutMs: number,
): Promise<ChildProcess> {
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
  const child = spawn(binary, [...args, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const errorLog = () => {
    const file = join(dir, 'error.log');
    return existsSync(file) ? readFileSync(file, 'utf8').slice(-4000) : '';
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `nginx on port ${port} exited with ${child.exitCode ?? child.signalCode}:\n${output}${errorLog()}`,
      );
    }
    if (await answers(port)) return child;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(
    `nginx on port ${port} did not listen in ${timeoutMs} ms:\n${output}${errorLog()}`,
  );
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `nginx` from PATH, else Debian's `/usr/sbin/nginx` (not on every user's PATH). */
function nginxBinary(): string {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    const probe = spawnSync(candidate, ['-v'], { stdio: 'ignore' });
    if (probe.error === undefined && probe.status === 0) return candidate;
  }
  const ci = process.env.CI === 'true' ? ' (CI=true: a missing nginx is a failure)' : '';
  throw new Error(
    `nginx is not installed${ci}: npm test and npm run bench install it (Debian: apt-get install nginx)`,
  );
}

/** PIDs of a process's children (Linux /proc), to end workers of a master that would not stop. */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
