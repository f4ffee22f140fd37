// Writes the README's Performance table from the latest benchmark results in
// bench/results/<id>.json, between <!-- bench-table:start --> and
// <!-- bench-table:end -->: one row per SPEC target, with the measured figure,
// the target and whether it is met, each naming its results file. A target with
// no results file says so instead of a figure. `npm run bench:table` rewrites
// README.md; `node scripts/bench-table.mjs --check` only compares (exit 1 when
// the table differs). Plain Node, no dependencies.
//
// Files written by the runner since issue 15 carry the rows it printed
// (`printed`: id, what, measured, target, met, detail); for older files (no
// `printed`) the row is computed here from their raw figures.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const START = '<!-- bench-table:start -->';
export const END = '<!-- bench-table:end -->';

/** The SPEC "Targets" rows: id, what is measured, the target. */
export const TARGETS = [
  [
    'P1',
    '`GET /hello` through `sessionMiddleware` (memory store) vs bare Express, req/s',
    '≥ 0.97 (no-op control within 0.03 of 1.00)',
  ],
  [
    'P2',
    'same vs express-session + MemoryStore, signed cookie, one session field changed per request',
    '≥ 1.5',
  ],
  [
    'P3',
    'heap per idle session, 1,000,000 sessions in `MemoryStore`',
    '≤ 400 B over a plain `Map`, < 1 KB in all',
  ],
  ['P4', 'sweep with 1,000,000 live and 0 expired sessions', '< 1 ms'],
  [
    'P5',
    '10× overload (200 closed-loop clients, 5 ms wait + ~0.1 ms CPU): adaptive capacity vs bare Express, clients that honour `Retry-After` and clients that retry at once',
    'honouring: goodput ≥ 0.9× bare; ignoring: ≥ 0.6×; admitted p99 ≤ 2× unloaded; all answered; 503 p99 < 5 ms',
  ],
  [
    'P6',
    'heap per idle WebSocket client with heartbeats and one `session.events` subscription, 2,000 clients',
    "≤ socket.io's per client in one room, same run",
  ],
  [
    'P7',
    '`RedisStore` per-request path (track + release) vs connect-redis get+set, same Redis',
    '≥ 1.5×',
  ],
  [
    'P8',
    '1,000 SDK clients on 3 node processes sharing Redis: rolling restart, then `kill -9` of one node',
    'all resumed, 0 events lost or duplicated, reconnects spread by jitter',
  ],
  [
    'P9',
    'soak: mixed HTTP + WebSocket load, sessions created and ended',
    'heap and RSS ≤ 1 MiB per 10,000 sessions; 0 left behind',
  ],
  [
    'P10',
    'abuse: one address floods `session.create` for 60 s while others use the node',
    'RSS ≤ +50 MiB; others p99 ≤ 2× unloaded; no 503',
  ],
  [
    'P11',
    "`connection: 'shared'`, 10 tabs",
    '1 WebSocket at the server; heap per tab ≤ 1/5 of 10 per-tab sockets',
  ],
  [
    'P14',
    'browser bundle of `createSessionClient({ url })` minus the tRPC client it wraps (esbuild `--minify`, `gzip -9`); socket.io-client beside',
    '≤ 6 KiB',
  ],
];

const fmt = (value, digits = 2) => Number(value).toFixed(digits);
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Rows for results files without `printed`, from their raw figures: { measured, met }. */
const legacy = {
  P5(run) {
    const find = (variant, kind, slow = false) =>
      run.rows.find((r) => r.variant === variant && r.kind === kind && r.slowEarlyRetries === slow);
    const p99 = (stats, status) => stats.latency?.[status]?.p99;
    const part = (kind, min, slow = false) => {
      const row = find('adaptive', kind, slow);
      const bare = find('bare', kind);
      if (row === undefined || bare === undefined) return undefined;
      const goodput = row.loaded.goodput / bare.loaded.goodput;
      const admitted = p99(row.loaded, '200') / p99(row.unloaded, '200');
      const shed = p99(row.loaded, '503');
      const answered = row.loaded.unanswered === 0;
      const label = slow
        ? 'retry at once, `slowEarlyRetries` (503s held by design)'
        : kind === 'honour'
          ? 'honour `Retry-After`'
          : 'retry at once';
      const met =
        goodput >= min && admitted <= 2 && answered && (slow || shed === undefined || shed < 5);
      return {
        text: `${label}: ${fmt(goodput)}× bare, p99 ${fmt(admitted)}×, 503 p99 ${shed === undefined ? '-' : `${fmt(shed)} ms`}, ${answered ? 'all answered' : `${row.loaded.unanswered} unanswered`}${slow ? ` (${met ? 'met' : 'not met'})` : ''}`,
        met,
        slow,
      };
    };
    const parts = [part('honour', 0.9), part('ignore', 0.6), part('ignore', 0.6, true)].filter(
      (p) => p !== undefined,
    );
    // slowEarlyRetries is reported apart (its 503s are held): not part of met.
    const counted = parts.filter((p) => !p.slow);
    return {
      measured: parts.map((p) => p.text).join('; '),
      met: counted.length === 0 ? undefined : counted.every((p) => p.met),
    };
  },
  P7(run) {
    const figures = run.figures?.P7;
    if (figures === undefined) return undefined;
    const best =
      figures.ratioOfBest === undefined ? '' : ` (best rounds ${fmt(figures.ratioOfBest)}×)`;
    const at64 = run.figures['P7-64'];
    const cluster = run.figures['P7-cluster'];
    const cluster64 = run.figures['P7-64-cluster'];
    const more = [
      at64 && `${fmt(at64.ratioOfMedians)}× at ${at64.inFlight} in flight`,
      cluster &&
        `Redis Cluster (informational): ${fmt(cluster.ratioOfMedians)}×${cluster64 ? `, ${fmt(cluster64.ratioOfMedians)}× at ${cluster64.inFlight} in flight` : ''}`,
    ].filter(Boolean);
    return {
      measured: [
        `${fmt(figures.ratioOfMedians)}× median round, ${figures.inFlight} in flight${best}`,
        ...more,
      ].join('; '),
      met: figures.ratioOfMedians >= 1.5,
    };
  },
  P8(run) {
    const parts = [];
    let met = true;
    for (const row of run.rows) {
      for (const phase of row.phases.filter((p) => p.phase !== 'steady')) {
        const e = phase.events;
        const d = phase.reconnectDelay;
        const ok =
          phase.resumed === phase.clients && e.lost === 0 && e.duplicated === 0 && e.gaps === 0;
        met &&= ok;
        parts.push(
          `${row.redis} ${phase.phase === 'kill' ? 'kill -9' : phase.phase}: ${phase.resumed}/${phase.clients} resumed, ${e.lost} of ${e.published} events lost, ${e.duplicated} dup, ${e.gaps} gaps, reconnect p50 ${d.p50} / p95 ${d.p95} / max ${d.max} ms (stddev ${d.stddev})`,
        );
      }
    }
    return { measured: parts.join('; '), met };
  },
  P9(run) {
    const left = Object.values(run.leftBehind ?? {}).reduce((a, b) => a + b, 0);
    return {
      measured: `${run.soakSeconds} s, ${run.sessionsCreated.toLocaleString('en-US')} sessions: heap ${kib(run.heapGrowthBytesPer10k)} and RSS ${kib(run.rssGrowthBytesPer10k)} per 10,000 (after GC); ${left} sessions, requests or sockets left`,
      met:
        run.heapGrowthBytesPer10k <= 2 ** 20 && run.rssGrowthBytesPer10k <= 2 ** 20 && left === 0,
    };
  },
  P10(run) {
    const o = run.others;
    return {
      measured: `RSS +${mib(run.rss.growthBytes)}; others' p99 ${fmt(o.p99Ratio)}× unloaded (${fmt(o.loaded.latency.p99)} vs ${fmt(o.unloaded.latency.p99)} ms); others saw ${o.shed503} × 503`,
      met: run.rss.growthBytes <= 50 * 2 ** 20 && o.p99Ratio <= 2 && o.shed503 === 0,
    };
  },
};

/** Informational rows shown beside a target's own, where SPEC's wording asks for them. */
const alongside = { P6: ['P6+ev'], P11: ['P11-bare'], P14: ['P14-io'] };

/** measured and met of a SPEC target from its printed rows: those with a target (met set). */
function fromPrinted(id, printed) {
  const mine = printed.filter((row) => row.id === id);
  const judged = mine.filter((row) => row.met !== undefined);
  const rows = judged.length > 0 ? judged : mine;
  if (rows.length === 0) return undefined;
  const extra = printed
    .filter((row) => alongside[id]?.includes(row.id))
    .map((row) => `; ${row.what} (informational, not judged by the run): ${row.measured}`)
    .join('');
  return {
    measured:
      (rows.length === 1
        ? rows[0].measured
        : rows.map((r) => `${r.what}: ${r.measured}`).join('; ')) + extra,
    met: judged.length === 0 ? undefined : judged.every((row) => row.met),
  };
}

const cell = (text) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The Markdown table for the results in `resultsDir`. */
export function renderTable(resultsDir = join(root, 'bench', 'results')) {
  const lines = ['| id | what | measured | target | met | results |', '|---|---|---|---|---|---|'];
  for (const [id, what, target] of TARGETS) {
    const file = join(resultsDir, `${id}.json`);
    const name = `bench/results/${id}.json`;
    let measured;
    let met;
    let source;
    if (!existsSync(file)) {
      measured = `no results yet (\`npm run bench -- ${id}\`)`;
      met = '-';
      source = `no \`${name}\``;
    } else {
      const run = JSON.parse(readFileSync(file, 'utf8'));
      const row = Array.isArray(run.printed) ? fromPrinted(id, run.printed) : legacy[id]?.(run);
      measured = row?.measured ?? `\`${name}\` has no ${id} figure this script can read`;
      met = row?.met === undefined ? '-' : row.met ? 'yes' : 'no';
      const commit =
        typeof run.commit === 'string'
          ? `, ${run.commit.slice(0, 7)}${run.commit.endsWith('+dirty') ? '+dirty' : ''}`
          : '';
      source = `\`${name}\` (${String(run.date).slice(0, 10)}${commit})`;
    }
    lines.push(`| ${[id, what, measured, target, met, source].map(cell).join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** `readme` with the text between the markers replaced by `table`. */
export function withTable(readme, table) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`README.md has no ${START} … ${END} markers`);
  }
  return `${readme.slice(0, start + START.length)}\n${table}${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = join(root, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const next = withTable(readme, renderTable());
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      process.stderr.write(
        'README.md Performance table differs from bench/results; run npm run bench:table\n',
      );
      process.exit(1);
    }
  } else if (next !== readme) {
    writeFileSync(readmePath, next);
    process.stdout.write('README.md: Performance table rewritten from bench/results\n');
  } else {
    process.stdout.write('README.md: Performance table already matches bench/results\n');
  }
}
