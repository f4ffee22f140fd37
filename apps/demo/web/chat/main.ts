import {
  type ConnectionState,
  createSessionClient,
  isGapEvent,
  type SessionEvent,
  type StorageOption,
  type TransportOption,
} from '@morgan/session-client';
import { idempotencyKeys } from '@morgan/session-client/idempotency';
import { sharedConnection } from '@morgan/session-client/shared';
import { sseTransport } from '@morgan/session-client/sse';
import type { AppRouter } from '../../src/router.js';
import { banner, byTestId } from '../shared/dom.js';
import { duration, shortId } from '../shared/format.js';
import { ActivityLog } from './activity.js';
import { NicknameEditor } from './nickname.js';
import { type ChatAnswer, ChatSender } from './sender.js';
import { StatusPanel } from './status.js';
import { Transcript } from './transcript.js';

// Page options from the query string: `?storage=local` shares one session
// across the tabs of this browser, `?user=alice` names the session's user,
// `?conversation=support-1` its conversation (default: the Morgan assistant chat),
// `?transport=sse|websocket|auto` what carries the session's events (default
// auto: the demo imports the SDK's opt-in SSE fallback, and idempotency keys),
// `?connection=shared` shares one WebSocket among this browser's tabs (each
// keeps its own session; one tab, elected, holds the socket).
const params = new URLSearchParams(location.search);
const transportParam = params.get('transport');
const transportMode =
  transportParam === 'sse' || transportParam === 'websocket' ? transportParam : 'auto';
const transport: TransportOption =
  transportMode === 'websocket' ? 'websocket' : sseTransport(transportMode);
const connection = params.get('connection') === 'shared' ? sharedConnection() : 'per-tab';
const storage: StorageOption = params.get('storage') === 'local' ? 'local' : 'session';
const userId = params.get('user') ?? guestName();
const conversationId = params.get('conversation') ?? 'morgan-assistant';

/** A friendly user name per tab (kept across reloads) so the dashboard can tell tabs apart. */
function guestName(): string {
  const key = 'morgan.demo.user';
  const saved = sessionStorage.getItem(key);
  if (saved !== null) return saved;
  const name = `guest-${Math.floor(1000 + Math.random() * 9000)}`;
  sessionStorage.setItem(key, name);
  return name;
}

const client = createSessionClient<AppRouter>({
  url: location.origin,
  storage,
  heartbeatIntervalMs: 5_000,
  reconnect: { baseDelayMs: 500, maxDelayMs: 5_000 },
  userId,
  conversationId,
  transport,
  connection,
  idempotencyKeys: idempotencyKeys(),
});

const status = new StatusPanel();
const activity = new ActivityLog(byTestId('activity-log'));
const transcript = new Transcript(
  byTestId('messages'),
  storage === 'local' ? globalThis.localStorage : globalThis.sessionStorage,
);
const form = byTestId<HTMLFormElement>('chat-form');
const input = byTestId<HTMLInputElement>('chat-input');
const send = byTestId<HTMLButtonElement>('chat-send');
const replacedBanner = byTestId('banner-replaced');
const overloadBanner = byTestId('banner-overload');
const errorBanner = byTestId('banner-error');

let reconnects = 0;
let replayed = 0;
let gaps = 0;
let shed = 0;
let pendingSends = 0;
/** Server clock minus page clock, learned from heartbeats. */
let serverOffsetMs = 0;
/** Server time of the last (re)connect: events appended before it are replays. */
let connectedAtServer = Number.POSITIVE_INFINITY;
const heldEvents: SessionEvent[] = [];
let leaving = false;

status.storage(storage === 'local' ? 'localStorage (shared by tabs)' : 'sessionStorage (this tab)');
status.connection(client.connectionMode, client.leading);
status.state('connecting');
status.transport(client.transport, transportMode);

// ---- connection -----------------------------------------------------------

client.on('state', (state: ConnectionState, previous: ConnectionState) => {
  document.body.dataset.state = state.status;
  // A handover (the leading tab went) passes through reconnecting: the leader may have changed.
  status.connection(client.connectionMode, client.leading);
  switch (state.status) {
    case 'connected':
      status.state('connected');
      connectedAtServer = Date.now() + serverOffsetMs;
      setComposer(true);
      if (previous.status === 'reconnecting' || previous.status === 'offline') {
        activity.add('Connected again', 'ok');
      } else {
        activity.add('Connected', 'ok');
      }
      break;
    case 'reconnecting': {
      const why =
        state.error?.closeCode !== undefined ? ` (socket closed ${state.error.closeCode})` : '';
      status.state('reconnecting', `#${state.attempt + 1}`);
      if (previous.status === 'connected')
        activity.add(`Connection lost${why}; reconnecting`, 'warn');
      break;
    }
    case 'offline':
      status.state('offline');
      activity.add('Browser is offline; waiting for the network', 'warn');
      break;
    case 'closed':
      status.state('closed');
      setComposer(false);
      if (leaving) break;
      activity.add(`Client closed${state.error ? `: ${state.error.message}` : ''}`, 'error');
      banner(
        errorBanner,
        `Disconnected for good: ${state.error?.message ?? 'closed'}. Reload the page to start again.`,
      );
      break;
    default:
      status.state(state.status);
  }
});

client.on('transport', (event) => {
  status.transport(event.transport, transportMode);
  activity.add(
    event.reason === 'websocket-refused'
      ? 'WebSocket refused; events now come over SSE'
      : 'WebSocket back; events moved to it',
    event.reason === 'websocket-refused' ? 'warn' : 'ok',
  );
});

client.on('reconnect', ({ attempt, delayMs }) => {
  reconnects += 1;
  status.reconnects(reconnects);
  activity.add(`Reconnect attempt ${attempt + 1} in ${duration(delayMs)}`, 'warn');
});

const nickname = new NicknameEditor(
  {
    update: (patch, ifVersion) => client.trpc.session.updateMetadata.mutate({ patch, ifVersion }),
    read: () => client.trpc.session.get.query(),
  },
  byTestId<HTMLInputElement>('nickname-input'),
  byTestId('nickname-status'),
);
byTestId<HTMLFormElement>('nickname-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void nickname.save().then((outcome) => {
    if (outcome === 'conflict') activity.add('Nickname changed in another tab first', 'warn');
  });
});

client.on('session', (session) => {
  nickname.show(session);
  status.session(session.sessionId);
  transcript.useSession(session.sessionId);
  document.body.dataset.sessionId = session.sessionId;
});

client.on('session-replaced', ({ previousSessionId, sessionId }) => {
  const text =
    `Session ${shortId(previousSessionId)} ended on the server (deleted, expired or lost in a restart). ` +
    `You are now in a new session, ${shortId(sessionId)}.`;
  banner(replacedBanner, text);
  replacedBanner.dataset.previousSessionId = previousSessionId;
  replacedBanner.dataset.sessionId = sessionId;
  transcript.divider(`New session ${shortId(sessionId)}`);
  status.messages(0);
  activity.add(`Session replaced: ${shortId(previousSessionId)} → ${shortId(sessionId)}`, 'warn');
});

client.on('heartbeat', (report) => {
  status.rtt(report.rttMs);
  serverOffsetMs = report.lastActivity.getTime() + report.rttMs / 2 - Date.now();
});

client.on('error', (error) => {
  activity.add(`${error.code}: ${error.message}`, 'error');
});

client.on('gap', () => {
  gaps += 1;
  status.gaps(gaps);
  activity.add('Some events were missed beyond the replay buffer (gap)', 'warn');
});

// ---- server events ----------------------------------------------------------

client.subscribeEvents((event) => {
  if (isGapEvent(event)) return;
  if (event.at < connectedAtServer - 50) {
    replayed += 1;
    status.replayed(replayed);
    activity.add(`Replayed missed event ${event.type} (${event.id})`, 'info');
  }
  if (event.type !== 'chat.reply') return;
  if (pendingSends > 0) heldEvents.push(event);
  else showEventReply(event);
});

/** A `chat.reply` that no answer of this tab showed: another tab of the session sent it, or it is a replay. */
function showEventReply(event: SessionEvent): void {
  const data = event.data as { reply?: unknown; message?: unknown; messageCount?: unknown };
  if (typeof data.reply !== 'string' || typeof data.messageCount !== 'number') return;
  const key = `${client.sessionId}:${data.messageCount}`;
  if (transcript.has(key)) return;
  if (typeof data.message === 'string') {
    transcript.user(data.message, 'event').status('sent', 'from another tab');
  }
  transcript.assistant(data.reply, {
    key,
    note: 'Morgan · via session events',
    origin: 'event',
    onlyOnce: true,
  });
  status.messages(data.messageCount);
}

// ---- sending ----------------------------------------------------------------

const sender = new ChatSender({
  // Through the SDK's tRPC client (`chat.send`), whose retries keep the key.
  post: (message, idempotencyKey) => sendOverTrpc(message, idempotencyKey),
  hooks: {
    onAttempt: () => {},
    onShed: ({ status: code, attempt, delayMs }) => {
      shed += 1;
      overloadBanner.dataset.shedCount = String(shed);
      banner(
        overloadBanner,
        `The server is shedding load (${code} ${code === 503 ? 'Server at capacity' : 'Too many requests'}). ` +
          `Your message is safe: retry ${attempt} in ${duration(delayMs)}.`,
      );
      activity.add(`${code} from the server, retry in ${duration(delayMs)}`, 'warn');
    },
    onUnreachable: ({ delayMs }) => {
      activity.add(`Server unreachable; retrying the message in ${duration(delayMs)}`, 'warn');
    },
  },
});

/**
 * One attempt of `chat.send`, as the sender reads answers: the reply as a
 * 200, a server error as its status and `{ error: { code, message } }`; a
 * failure to reach the server rejects (the sender retries it, same key).
 */
async function sendOverTrpc(message: string, idempotencyKey: string): Promise<Response> {
  try {
    const answer = await client.trpc.chat.send.mutate({ message }, { context: { idempotencyKey } });
    return Response.json(answer);
  } catch (error) {
    const failure = error as {
      message?: string;
      data?: { httpStatus?: number; errorCode?: string } | null;
      meta?: { response?: { headers?: Headers } };
    };
    const status = failure.data?.httpStatus;
    if (status === undefined) throw error;
    const retryAfter = failure.meta?.response?.headers?.get('retry-after');
    return Response.json(
      { error: { code: failure.data?.errorCode, message: failure.message } },
      { status, headers: retryAfter ? { 'retry-after': retryAfter } : {} },
    );
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (text === '') return;
  input.value = '';
  void deliver(text);
});

async function deliver(text: string): Promise<void> {
  const view = transcript.user(text);
  pendingSends += 1;
  updatePending();
  try {
    const answer: ChatAnswer = await sender.send(text, (reason) => {
      view.status(
        'retrying',
        reason === 'shed' ? 'server busy, retrying…' : 'server unreachable, retrying…',
      );
    });
    view.status('sent');
    transcript.assistant(answer.reply, {
      key: `${answer.sessionId}:${answer.messageCount}`,
      after: view.element,
    });
    status.messages(answer.messageCount);
    if (shed > 0 && !overloadBanner.hidden) {
      banner(
        overloadBanner,
        `The server was shedding load; your message went through after retrying.`,
      );
    }
  } catch (error) {
    view.status('failed', error instanceof Error ? error.message : String(error));
    activity.add(`Message not delivered: ${String(error)}`, 'error');
  } finally {
    pendingSends -= 1;
    updatePending();
    if (pendingSends === 0) {
      for (const held of heldEvents.splice(0)) showEventReply(held);
    }
  }
}

function updatePending(): void {
  document.body.dataset.pending = String(pendingSends);
}

function setComposer(enabled: boolean): void {
  input.disabled = !enabled;
  send.disabled = !enabled;
  if (enabled && document.activeElement === document.body) input.focus();
}

window.addEventListener('pagehide', () => {
  leaving = true;
  // The session stays on the server (a reload resumes it); only the socket goes.
  void client.close();
});

client.connect().catch((error: unknown) => {
  banner(
    errorBanner,
    `Could not connect: ${error instanceof Error ? error.message : String(error)}`,
  );
});
