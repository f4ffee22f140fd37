import type { AdminState } from '../../src/admin/types.js';
import { banner, byTestId, setText } from '../shared/dom.js';
import { duration } from '../shared/format.js';
import { drawChart } from './chart.js';
import { SessionTable } from './table.js';
import { forgetToken, loadToken, saveToken, tokenFromFragment } from './token.js';

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
  capacityMode: byTestId('capacity-mode'),
  connections: byTestId('total-connections'),
  sockets: byTestId('total-sockets'),
  sharedSockets: byTestId('total-shared-sockets'),
  channels: byTestId('total-channels'),
  tabsPerBrowser: byTestId('tabs-per-browser'),
  shed: byTestId('total-shed'),
  overloadState: byTestId('overload-state'),
  overloadDetail: byTestId('overload-detail'),
  overloadToggle: byTestId<HTMLButtonElement>('overload-toggle'),
  chart: document.querySelector<SVGSVGElement>('[data-testid="chart"]')!,
  chartWindow: byTestId('chart-window'),
  body: byTestId<HTMLTableSectionElement>('sessions-body'),
  empty: byTestId('sessions-empty'),
  tokenCard: byTestId('token-card'),
  tokenForm: byTestId<HTMLFormElement>('token-form'),
  tokenInput: byTestId<HTMLInputElement>('token-input'),
  tokenMessage: byTestId('token-message'),
};

/** The server answered 401: no admin token, or a wrong one. */
class TokenRefused extends Error {}

let token = loadToken();

let latest: AdminState | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let requested = 0;
let rendered = 0;

const table = new SessionTable(ui.body, (session, row) => {
  row.classList.add('gone');
  void api(`/api/admin/sessions/${encodeURIComponent(session.handle)}`, { method: 'DELETE' })
    .catch((error: unknown) => actionFailed(`Could not delete ${session.shortId}`, error))
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
    .catch((error: unknown) => actionFailed('Could not switch the overload', error))
    .finally(() => {
      ui.overloadToggle.disabled = false;
      void refresh();
    });
});

ui.tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const entered = ui.tokenInput.value.trim();
  if (entered === '') return;
  saveToken(entered);
  ui.tokenInput.value = '';
  useToken(entered);
});

// The printed URL pasted into a tab that already shows the dashboard.
window.addEventListener('hashchange', () => {
  const fromUrl = tokenFromFragment();
  if (fromUrl !== undefined) useToken(fromUrl);
});

function useToken(value: string): void {
  token = value;
  ui.tokenCard.hidden = true;
  document.body.dataset.auth = 'ok';
  void refresh();
}

/** Shows the token form instead of the dashboard; polling stops until a token is entered. */
function askForToken(): void {
  if (!ui.tokenCard.hidden) return; // already asking (a later call failed for want of a token)
  const refused = token !== undefined;
  if (refused) forgetToken();
  token = undefined;
  clearTimeout(timer);
  showError(undefined);
  setText(
    ui.tokenMessage,
    refused
      ? 'The server refused that token. Enter the admin token again.'
      : 'Open the dashboard from the "Admin dashboard:" link the server printed at start-up, or enter the admin token (MORGAN_ADMIN_TOKEN).',
  );
  ui.tokenMessage.dataset.reason = refused ? 'refused' : 'missing';
  document.body.dataset.auth = 'required';
  ui.tokenCard.hidden = false;
  ui.tokenInput.focus();
}

/** Every admin call: with the token, JSON both ways; 401 throws `TokenRefused`. */
async function api(path: string, init?: RequestInit): Promise<unknown> {
  if (token === undefined) throw new TokenRefused('No admin token');
  const headers = new Headers(init?.headers);
  headers.set('authorization', `Bearer ${token}`);
  const response = await fetch(path, { cache: 'no-store', ...init, headers });
  if (response.status === 401) throw new TokenRefused('The admin token was refused');
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

function actionFailed(what: string, error: unknown): void {
  if (error instanceof TokenRefused) askForToken();
  else showError(`${what}: ${message(error)}`);
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
  setText(ui.capacity, String(totals.capacityLimit));
  setText(ui.capacityMode, totals.capacityMode);
  setText(ui.connections, String(totals.connections));
  const sockets = state.webSockets;
  setText(ui.sockets, sockets === null ? '—' : String(sockets.sockets));
  setText(ui.sharedSockets, sockets === null ? '—' : String(sockets.sharedSockets));
  setText(ui.channels, sockets === null ? '—' : String(sockets.channels));
  setText(
    ui.tabsPerBrowser,
    sockets === null || sockets.sharedSockets === 0
      ? '—'
      : (sockets.channels / sockets.sharedSockets).toFixed(1).replace(/\.0$/, ''),
  );
  setText(ui.shed, String(totals.shed));
  setText(ui.overloadState, overload.enabled ? 'on' : 'off');
  setText(
    ui.overloadDetail,
    overload.enabled
      ? `${overload.freeSlots} of ${totals.capacityLimit} slots left · replies +${overload.replyDelayMs} ms`
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
    if (error instanceof TokenRefused) {
      // A newer call may have succeeded with a token entered meanwhile.
      if (seq === requested) askForToken();
      return;
    }
    showError(`The server does not answer (${message(error)}); retrying every second.`);
  }
  clearTimeout(timer);
  timer = setTimeout(() => void refresh(), REFRESH_MS);
}

window.addEventListener('resize', () => {
  if (latest !== undefined)
    drawChart(ui.chart, latest.series.samples, latest.series.windowMs, latest.now);
});

void refresh();
