// P11: `connection: 'shared'`, 10 tabs per browser: the server holds 1
// WebSocket per browser, and its heap per tab is compared with 10 per-tab
// sockets, same run.
//
// Two Morgan WebSocket servers run in child processes (fork + IPC,
// --expose-gc; the clients live in this process, so their memory never
// counts). On one, 100 browsers × 10 tabs each open their own socket
// (per-tab, today's default); on the other, each browser's 10 tabs share one
// socket (`/trpc?mux=1`, one channel per tab, as the SDK's elected tab
// carries them). Every tab authenticates its own session with
// connectionParams, then opens its `session.events` subscription, as every
// SDK client and demo tab does (the figure without it is shown beside).
// Sessions are created before the baseline, so only the connections count.
// Per server: warm up, idle, measure heap after GC (baseline), connect,
// idle, measure; per tab = (after - baseline) / 1,000.
import { gitCommit, writeResults } from '../results.js';
import type { BenchResult, BenchTarget } from '../target.js';
import {
  type IdleClient,
  inBatches,
  morganClient,
  type ServerMemory,
  startWsChild,
  type WsChild,
} from '../ws/clients.js';
import { type SharedBrowser, sharedBrowser } from '../ws/shared-clients.js';

const BROWSERS = 100;
const TABS = 10;
const WARMUP_BROWSERS = 10;
const BATCH = 100;
const IDLE_MS = 10_000;

const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
const idle = () => new Promise((resolve) => setTimeout(resolve, IDLE_MS));

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

type Tab = Awaited<ReturnType<typeof morganClient>>;

/** `browsers` × TABS per-tab sockets, over `ids` from `offset`. */
async function perTab(server: WsChild, ids: string[], offset: number, browsers: number) {
  const tabs = await inBatches(browsers * TABS, BATCH, (i) =>
    morganClient(server.port, ids[offset + i] as string),
  );
  await waitFor('per-tab sockets', async () => (await server.connections()) === browsers * TABS);
  return tabs;
}

/** `browsers` browsers of TABS tabs on one shared socket each. */
async function shared(server: WsChild, ids: string[], offset: number, browsers: number) {
  const list = await inBatches(browsers, BATCH / TABS, (b) =>
    sharedBrowser(server.port, ids.slice(offset + b * TABS, offset + (b + 1) * TABS)),
  );
  await waitFor('shared channels', async () => (await server.channels()) === browsers * TABS);
  return list;
}

const perTabOf = (before: ServerMemory, after: ServerMemory) =>
  (after.heapUsed - before.heapUsed) / (BROWSERS * TABS);

async function run(): Promise<BenchResult[]> {
  const single = await startWsChild('morgan');
  const multi = await startWsChild('morgan');
  const open: (IdleClient | SharedBrowser)[] = [];
  try {
    const total = (BROWSERS + WARMUP_BROWSERS) * TABS;
    const [singleIds, multiIds] = await Promise.all([
      single.sessions(total),
      multi.sessions(total),
    ]);
    // Warm up: the code paths of both kinds run before the baseline.
    const warmTabs = await perTab(single, singleIds, BROWSERS * TABS, WARMUP_BROWSERS);
    await inBatches(warmTabs.length, BATCH, (i) => (warmTabs[i] as Tab).subscribe());
    for (const tab of warmTabs) tab.close();
    const warmBrowsers = await shared(multi, multiIds, BROWSERS * TABS, WARMUP_BROWSERS);
    await Promise.all(warmBrowsers.map((browser) => browser.subscribe()));
    for (const browser of warmBrowsers) browser.close();
    await waitFor('warm-up closed', async () => (await single.connections()) === 0);
    await waitFor('warm-up closed', async () => (await multi.channels()) === 0);
    await idle();
    const baseline = { perTab: await single.measure(), shared: await multi.measure() };

    const tabs = await perTab(single, singleIds, 0, BROWSERS);
    open.push(...tabs);
    const browsers = await shared(multi, multiIds, 0, BROWSERS);
    open.push(...browsers);
    const sockets = { perTab: await single.connections(), shared: await multi.connections() };
    await idle();
    const bare = {
      perTab: perTabOf(baseline.perTab, await single.measure()),
      shared: perTabOf(baseline.shared, await multi.measure()),
    };
    await inBatches(tabs.length, BATCH, (i) => (tabs[i] as Tab).subscribe());
    await inBatches(browsers.length, BATCH / TABS, (i) =>
      (browsers[i] as SharedBrowser).subscribe(),
    );
    await idle();
    const subscribed = {
      perTab: perTabOf(baseline.perTab, await single.measure()),
      shared: perTabOf(baseline.shared, await multi.measure()),
    };

    const ratio = (figures: { perTab: number; shared: number }) => figures.shared / figures.perTab;
    const socketsPerBrowser = sockets.shared / BROWSERS;
    const rows: BenchResult[] = [
      {
        id: 'P11',
        what: `server heap per tab, ${TABS} tabs shared vs ${TABS} per-tab sockets, with session.events (${BROWSERS} browsers)`,
        measured: `${socketsPerBrowser} socket per browser; heap per tab ${kib(subscribed.shared)} vs ${kib(subscribed.perTab)} (${ratio(subscribed).toFixed(2)}x)`,
        target: '1 socket per browser, <= 1/5 (0.20x)',
        met: socketsPerBrowser === 1 && ratio(subscribed) <= 0.2,
        detail:
          `real sockets at the server: ${sockets.shared} shared for ${BROWSERS} browsers (${socketsPerBrowser} per browser), ` +
          `${sockets.perTab} per-tab; every tab authenticated its own session and holds one session.events subscription`,
      },
      {
        id: 'P11-bare',
        what: `same, without the subscription (connectionParams auth only)`,
        measured: `${kib(bare.shared)} vs ${kib(bare.perTab)} (${ratio(bare).toFixed(2)}x)`,
        target: '- (informational)',
      },
    ];
    writeResults('P11', {
      commit: gitCommit(),
      target: 'P11',
      browsers: BROWSERS,
      tabsPerBrowser: TABS,
      idleMs: IDLE_MS,
      sockets,
      baseline,
      heapPerTab: { bare, subscribed },
      printed: rows,
    });
    return rows;
  } finally {
    for (const client of open) client.close();
    await Promise.all([single.stop(), multi.stop()]);
  }
}

const target: BenchTarget = { ids: ['P11'], run };
export default target;
