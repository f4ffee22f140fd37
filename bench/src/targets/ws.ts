// P6: heap (and RSS) per idle WebSocket client with heartbeats, 2,000 clients,
// Morgan's WebSocket layer vs socket.io 4 with its default heartbeat, same run.
//
// Each server runs in its own child process (fork + IPC, --expose-gc); the
// clients live in this process, so their memory never counts. Per server:
// warm up with a few clients, idle 30 s, measure heap and RSS after GC
// (baseline), connect 2,000 clients on loopback, stay idle for 30 s (past the
// 25 s ping interval of both, so every client has answered a server
// heartbeat), measure again.
// Per-client figure = (after - baseline) / 2,000.
//
// Morgan's clients authenticate with connectionParams like the SDK does and
// then each opens one `session.events` subscription, as every SDK client and
// demo tab does (SPEC's P6, judged against socket.io with one room per
// client); the figure without the subscription is shown beside it. Sessions are created before
// the baseline (socket.io has none), so only the connection is measured. A bare `ws` server with one ping
// interval is shown for reference (the transport alone).
import { gitCommit, writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';
import {
  type IdleClient,
  inBatches,
  morganClient,
  type ServerMemory,
  socketIOClient,
  startWsChild,
  type WsChild,
  wsClient,
} from '../ws/clients.js';

const CLIENTS = 2_000;
const WARMUP_CLIENTS = 100;
const BATCH = 100;
const IDLE_MS = 30_000;

const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;

interface Measured {
  heapPerClient: number;
  rssPerClient: number;
  pinged: number;
}

function perClient(before: ServerMemory, after: ServerMemory, clients: IdleClient[]): Measured {
  return {
    heapPerClient: (after.heapUsed - before.heapUsed) / clients.length,
    rssPerClient: (after.rss - before.rss) / clients.length,
    pinged: clients.filter((client) => client.pings() > 0).length,
  };
}

async function waitForConnections(server: WsChild, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await server.connections()) !== count) {
    if (Date.now() > deadline)
      throw new Error(`${server.variant}: ${count} connections not reached`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function warmUp(server: WsChild, connect: (i: number) => Promise<IdleClient>): Promise<void> {
  const clients = await inBatches(WARMUP_CLIENTS, BATCH, connect);
  await waitForConnections(server, WARMUP_CLIENTS);
  for (const client of clients) client.close();
  await waitForConnections(server, 0);
}

async function run(): Promise<BenchResult[]> {
  const morgan = await startWsChild('morgan');
  const socketio = await startWsChild('socket.io');
  const bare = await startWsChild('ws');
  const clients: IdleClient[] = [];
  try {
    const sessionIds = await morgan.sessions(CLIENTS + WARMUP_CLIENTS);
    const morganConnect = (i: number) => morganClient(morgan.port, sessionIds[i] as string);
    await warmUp(morgan, (i) => morganConnect(CLIENTS + i));
    await warmUp(socketio, () => socketIOClient(socketio.port));
    await warmUp(bare, () => wsClient(bare.port));
    // Idle as long as after connecting, so V8's idle-time memory reducer has
    // run before both measurements and RSS compares like with like.
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const baseline = {
      morgan: await morgan.measure(),
      socketio: await socketio.measure(),
      bare: await bare.measure(),
    };

    const morganClients = await inBatches(CLIENTS, BATCH, morganConnect);
    clients.push(...morganClients);
    await waitForConnections(morgan, CLIENTS);
    const socketioClients = await inBatches(CLIENTS, BATCH, () => socketIOClient(socketio.port));
    clients.push(...socketioClients);
    await waitForConnections(socketio, CLIENTS);
    const bareClients = await inBatches(CLIENTS, BATCH, () => wsClient(bare.port));
    clients.push(...bareClients);
    await waitForConnections(bare, CLIENTS);

    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const ours = perClient(baseline.morgan, await morgan.measure(), morganClients);
    const theirs = perClient(baseline.socketio, await socketio.measure(), socketioClients);
    const transport = perClient(baseline.bare, await bare.measure(), bareClients);

    await inBatches(CLIENTS, BATCH, (i) =>
      (morganClients[i] as Awaited<ReturnType<typeof morganClient>>).subscribe(),
    );
    const subscribed = perClient(baseline.morgan, await morgan.measure(), morganClients);

    const ratio = (ours: Measured) => (ours.heapPerClient / theirs.heapPerClient).toFixed(2);
    const pinged = `clients that answered a server ping: morgan ${ours.pinged}, socket.io ${theirs.pinged}, ws ${transport.pinged} of ${CLIENTS}`;
    const rows: BenchResult[] = [
      {
        // As SPEC states P6: every SDK client and demo tab holds one subscription.
        id: 'P6',
        what: `heap per idle WebSocket client with one session.events subscription, ${CLIENTS} clients`,
        measured: `${kib(subscribed.heapPerClient)} (${ratio(subscribed)}x socket.io)`,
        target: '<= socket.io on the same run',
        met: subscribed.heapPerClient <= theirs.heapPerClient && ours.pinged === CLIENTS,
        detail:
          `socket.io 4 (default 25 s / 20 s heartbeat, one room per client): ${kib(theirs.heapPerClient)} heap, ${kib(theirs.rssPerClient)} RSS per client; ` +
          `morgan with the subscription: ${kib(subscribed.heapPerClient)} heap, ${kib(subscribed.rssPerClient)} RSS ` +
          `(the subscription adds ${kib(subscribed.heapPerClient - ours.heapPerClient)}: served by Morgan's WebSocket layer with state of its own, in tRPC's wire format; ` +
          `RSS measured right after subscribing, without the idle wait); ${pinged}`,
      },
      {
        id: 'P6-idle',
        what: `same, without the subscription (connectionParams auth only)`,
        measured: `${kib(ours.heapPerClient)} (${ratio(ours)}x socket.io)`,
        target: '- (informational)',
        detail:
          `morgan (25 s / 10 s heartbeat): ${kib(ours.heapPerClient)} heap, ${kib(ours.rssPerClient)} RSS; ` +
          `bare ws: ${kib(transport.heapPerClient)} heap, ${kib(transport.rssPerClient)} RSS (RSS deltas are noisy)`,
      },
      {
        id: 'P6rss',
        what: `RSS per idle WebSocket client without the subscription, ${CLIENTS} clients`,
        measured: `${kib(ours.rssPerClient)} (${(ours.rssPerClient / theirs.rssPerClient).toFixed(2)}x socket.io)`,
        target: '- (informational)',
      },
    ];
    writeResults('P6', {
      commit: gitCommit(),
      target: 'P6',
      clients: CLIENTS,
      idleMs: IDLE_MS,
      baseline,
      perClient: { morgan: ours, socketio: theirs, ws: transport, morganSubscribed: subscribed },
      printed: rows,
    });
    return rows;
  } finally {
    for (const client of clients) client.close();
    await Promise.all([morgan.stop(), socketio.stop(), bare.stop()]);
  }
}

const target: BenchTarget = { ids: ['P6'], run };
export default target;
