import type { AdminSessionRow } from '../../src/admin/types.js';
import { setText } from '../shared/dom.js';
import { duration } from '../shared/format.js';

const COLUMNS = [
  'session',
  'user',
  'conversation',
  'age',
  'idle',
  'connections',
  'requests',
] as const;
type Column = (typeof COLUMNS)[number];

interface RowView {
  row: HTMLTableRowElement;
  cells: Record<Column, HTMLTableCellElement>;
}

type OnDelete = (session: AdminSessionRow, row: HTMLTableRowElement) => void;

/**
 * The live session table. Rows are keyed by the sessions' handles (the server
 * never lists full ids) and updated in place, so a row under the pointer (and
 * its delete button) survives each refresh.
 */
export class SessionTable {
  readonly #body: HTMLTableSectionElement;
  readonly #onDelete: OnDelete;
  readonly #rows = new Map<string, RowView>();

  constructor(body: HTMLTableSectionElement, onDelete: OnDelete) {
    this.#body = body;
    this.#onDelete = onDelete;
  }

  update(sessions: readonly AdminSessionRow[]): void {
    const seen = new Set<string>();
    let previous: HTMLTableRowElement | undefined;
    for (const session of sessions) {
      seen.add(session.handle);
      const view = this.#rows.get(session.handle) ?? this.#create(session);
      fill(view, session);
      const expected =
        previous === undefined ? this.#body.firstElementChild : previous.nextElementSibling;
      if (expected !== view.row) {
        if (previous === undefined) this.#body.prepend(view.row);
        else previous.after(view.row);
      }
      previous = view.row;
    }
    for (const [id, view] of this.#rows) {
      if (seen.has(id)) continue;
      view.row.remove();
      this.#rows.delete(id);
    }
  }

  #create(session: AdminSessionRow): RowView {
    const row = document.createElement('tr');
    row.dataset.testid = 'session-row';
    row.dataset.shortId = session.shortId;
    const cells = {} as Record<Column, HTMLTableCellElement>;
    for (const column of COLUMNS) {
      const cell = document.createElement('td');
      cell.dataset.col = column;
      if (['age', 'idle', 'connections', 'requests'].includes(column)) cell.className = 'num';
      cells[column] = cell;
      row.append(cell);
    }
    const action = document.createElement('td');
    action.className = 'num';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'danger';
    button.dataset.testid = 'delete-session';
    button.textContent = 'Delete';
    button.title = 'End this session now; its tab moves to a new one';
    button.addEventListener('click', () => this.#onDelete(session, row));
    action.append(button);
    row.append(action);
    const code = document.createElement('code');
    code.textContent = session.shortId;
    cells.session.append(code);
    const view = { row, cells };
    this.#rows.set(session.handle, view);
    return view;
  }
}

function fill(view: RowView, session: AdminSessionRow): void {
  const { cells } = view;
  setText(cells.user, session.userId ?? '—');
  setText(cells.conversation, session.conversationId ?? '—');
  setText(cells.age, duration(session.ageMs));
  setText(cells.idle, duration(session.idleMs));
  pill(cells.connections, session.connectionCount, 'live');
  pill(cells.requests, session.activeRequests, 'busy');
  view.row.classList.toggle('busy', session.activeRequests > 0);
}

function pill(cell: HTMLTableCellElement, value: number, activeClass: string): void {
  let span = cell.firstElementChild as HTMLSpanElement | null;
  if (span === null) {
    span = document.createElement('span');
    cell.append(span);
  }
  span.className = value > 0 ? `pill ${activeClass}` : 'pill';
  setText(span, String(value));
}
