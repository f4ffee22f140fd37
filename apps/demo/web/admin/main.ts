import type { AdminState } from '../../src/admin/types.js';
import { banner, byTestId, setText } from '../shared/dom.js';
import { duration } from '../shared/format.js';
import { drawChart } from './chart.js';
import { SessionTable } from './table.js';

const REFRESH_MS = 1000;

const ui = {
  error: byTestId('admin-error'),
  node: byTestId('node-info'),
  sessions: byTestId('total-sessions'),
  created: byTestId('total-created'),
  deleted: byTestId('total-deleted'),
  expired: byTestId('total-expired'),
  inflight: byTestId('total-inflight'),
  capacity: byTestId('capacity'),
  connections: byTestId('total-connections'),
  shed: byTestId('total-shed'),
  overloadState: byTestId('overload-state'),
  overloadDetail: byTestId('overload-detail'),
  overloadToggle: byTestId<HTMLButtonElement>('overload-toggle'),
  chart: document.querySelector<SVGSVGElement>('[data-testid="chart"]')!,
  chartWindow: byTestId('chart-window'),
  body: byTestId<HTMLTableSectionElement>('sessions-body'),
  empty: byTestId('sessions-empty'),
};

let latest: AdminState | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let requested = 0;
let rendered = 0;

const table = new SessionTable(ui.body, (sessionId, row) => {
  row.classList.add('gone');
  void api(`/api/admin/sessions/${sessionId}`, { method: 'DELETE' })
    .catch((error: unknown) => showError(`Could not delete ${sessionId}: ${message(error)}`))
    .finally(() => void refresh());
});

ui.overloadToggle.addEventListener('click', () => {
  const enabled = !(latest?.overload.enabled ?? false);
  ui.overloadToggle.disabled = true;
  void api('/api/admin/overload', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enabled }),
  })
    .catch((error: unknown) => showError(`Could not switch the overload: ${message(error)}`))
    .finally(() => {
      ui.overloadToggle.disabled = false;
      void refresh();
    });
});

async function api(path: string, init?: RequestInit): Promise<unknown> {
  const response = await fetch(path, { cache: 'no-store', ...init });
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = (body as { error?: { message?: string } } | undefined)?.error;
    throw new Error(error?.message ?? `HTTP ${response.status}`);
  }
  return body;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function showError(text: string | undefined): void {
  banner(ui.error, text);
}

function render(state: AdminState): void {
  latest = state;
  const { totals, overload, node } = state;
  setText(
    ui.node,
    `${node.name} · ${node.store} store · up ${duration(node.uptimeSeconds * 1000)}`,
  );
  setText(ui.sessions, String(totals.activeSessions));
  setText(ui.created, String(totals.created));
  setText(ui.deleted, String(totals.deleted));
  setText(ui.expired, String(totals.expired));
  setText(ui.inflight, String(totals.inFlightRequests));
  setText(ui.capacity, String(totals.maxConcurrentRequests));
  setText(ui.connections, String(totals.connections));
  setText(ui.shed, String(totals.shed));
  setText(ui.overloadState, overload.enabled ? 'on' : 'off');
  setText(
    ui.overloadDetail,
    overload.enabled
      ? `${overload.freeSlots} of ${totals.maxConcurrentRequests} slots left · replies +${overload.replyDelayMs} ms`
      : 'holds request slots and slows replies',
  );
  setText(ui.overloadToggle, overload.enabled ? 'Turn off' : 'Turn on');
  ui.overloadToggle.setAttribute('aria-pressed', String(overload.enabled));
  ui.overloadToggle.closest('.card')?.setAttribute('data-on', String(overload.enabled));
  const spanMs = drawChart(ui.chart, state.series.samples, state.series.windowMs, state.now);
  setText(ui.chartWindow, spanMs % 60_000 === 0 ? `${spanMs / 60_000} min` : duration(spanMs));
  table.update(state.sessions);
  ui.empty.hidden = state.sessions.length > 0;
  if (state.listError !== null) setText(ui.empty, state.listError);
  document.body.dataset.ready = 'true';
}

/** Fetches and renders the state; answers that arrive after a newer one are dropped. */
async function refresh(): Promise<void> {
  clearTimeout(timer);
  const seq = ++requested;
  try {
    const state = (await api('/api/admin/state')) as AdminState;
    if (seq > rendered) {
      rendered = seq;
      render(state);
      showError(undefined);
    }
  } catch (error) {
    showError(`The server does not answer (${message(error)}); retrying every second.`);
  } finally {
    clearTimeout(timer);
    timer = setTimeout(() => void refresh(), REFRESH_MS);
  }
}

window.addEventListener('resize', () => {
  if (latest !== undefined)
    drawChart(ui.chart, latest.series.samples, latest.series.windowMs, latest.now);
});

void refresh();
