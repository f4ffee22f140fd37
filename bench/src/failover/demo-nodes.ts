// P8's system under test: N real demo node processes (apps/demo's built
// server entry, `npm run bench` builds it) sharing one Redis, behind a real
// nginx (round robin, no sticky sessions). Everything is stopped by PID.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  establishedConnections,
  type NginxServer,
  type NodeProcess,
  startNginx,
  startNodeProcess,
} from '@morgan/test-support';

/** The built demo server. */
export const demoEntry = fileURLToPath(
  new URL('../../../apps/demo/dist/server.js', import.meta.url),
);

/** Demo nodes behind nginx. */
export interface DemoNodes extends AsyncDisposable {
  readonly nodes: readonly NodeProcess[];
  readonly nginx: NginxServer;
  /** Connections each node holds open (its WebSockets, as nginx closes plain requests' connections), by node name. */
  sockets(): Record<string, number>;
  stop(): Promise<void>;
}

/**
 * Starts `count` demo nodes with `env` (the Redis row's) and nginx in front.
 * Each node is ready once `/ready` answers 200 (its store answers). The demo's
 * per-address session-creation limit is off: every client reaches the nodes
 * from nginx's one address.
 */
export async function startDemoNodes(
  count: number,
  env: Readonly<Record<string, string>>,
): Promise<DemoNodes> {
  const nodes: NodeProcess[] = [];
  let nginx: NginxServer | undefined;
  const stop = async () => {
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.stop('SIGTERM')));
  };
  try {
    const nodeEnv = {
      NODE_ENV: 'production',
      // Every client is on this machine: one address for the per-address limit.
      MORGAN_CREATE_RATE_LIMIT: 'off',
      // Behind nginx: the client's address is the one nginx forwards.
      MORGAN_TRUST_PROXY: 'loopback',
      MORGAN_ADMIN_TOKEN: randomBytes(16).toString('hex'),
      ...env,
    };
    for (let i = 0; i < count; i += 1) {
      nodes.push(
        await startNodeProcess({
          entry: demoEntry,
          name: `node-${String.fromCharCode(97 + i)}`,
          env: nodeEnv,
          healthPath: '/ready',
          // Leave a graceful shutdown its time (drain 10 s + hooks): a forced kill is reported, not caused.
          stopTimeoutMs: 30_000,
          startTimeoutMs: 30_000,
        }),
      );
    }
    nginx = await startNginx({ upstreams: nodes.map((node) => `127.0.0.1:${node.port}`) });
  } catch (error) {
    await stop();
    throw error;
  }
  const proxy = nginx;
  return {
    nodes,
    nginx: proxy,
    sockets() {
      const counts: Record<string, number> = {};
      for (const node of nodes) {
        counts[node.name] =
          node.pid === undefined ? 0 : establishedConnections(node.pid, node.port);
      }
      return counts;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
