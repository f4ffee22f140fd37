import { byTestId, setText } from '../shared/dom.js';
import { shortId } from '../shared/format.js';

/** The "Session" panel: one setter per figure, each bound to a `data-testid`. */
export class StatusPanel {
  readonly #session = byTestId('session-id');
  readonly #state = byTestId('connection-state');
  readonly #rtt = byTestId('heartbeat-rtt');
  readonly #reconnects = byTestId('reconnect-count');
  readonly #replayed = byTestId('replayed-count');
  readonly #gaps = byTestId('gap-count');
  readonly #messages = byTestId('message-count');
  readonly #storage = byTestId('storage-mode');
  readonly #transport = byTestId('transport');
  readonly #connection = byTestId('connection-mode');

  session(sessionId: string | undefined): void {
    setText(this.#session, shortId(sessionId));
    this.#session.title = sessionId ?? '';
    this.#session.dataset.sessionId = sessionId ?? '';
  }

  state(status: string, detail?: string): void {
    setText(this.#state, detail === undefined ? status : `${status} · ${detail}`);
    this.#state.dataset.state = status;
  }

  rtt(ms: number): void {
    setText(this.#rtt, `${Math.max(0, Math.round(ms))} ms`);
  }

  reconnects(count: number): void {
    setText(this.#reconnects, String(count));
  }

  replayed(count: number): void {
    setText(this.#replayed, String(count));
  }

  gaps(count: number): void {
    setText(this.#gaps, String(count));
  }

  messages(count: number): void {
    setText(this.#messages, String(count));
  }

  /** The transport in use (`websocket` or `sse`) and the page's `?transport=` choice. */
  transport(kind: string, option: string): void {
    setText(this.#transport, option === 'auto' ? `${kind} (auto)` : kind);
    this.#transport.dataset.transport = kind;
  }

  /** `per-tab`, or `shared` with whether this tab holds the browser's socket. */
  connection(mode: 'per-tab' | 'shared', leading: boolean): void {
    setText(
      this.#connection,
      mode === 'shared' ? `shared · ${leading ? 'leader' : 'via leader'}` : mode,
    );
    this.#connection.dataset.mode = mode;
    this.#connection.dataset.leading = String(leading);
  }

  storage(mode: string): void {
    setText(this.#storage, mode);
  }
}
