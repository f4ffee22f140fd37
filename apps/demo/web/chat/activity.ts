import { clock } from '../shared/format.js';

/** How an activity line is coloured. */
export type ActivityKind = 'info' | 'ok' | 'warn' | 'error';

const MAX_ENTRIES = 60;

/** The "Activity" feed: what the connection did, newest first. */
export class ActivityLog {
  readonly #list: HTMLElement;

  constructor(list: HTMLElement) {
    this.#list = list;
  }

  add(text: string, kind: ActivityKind = 'info'): void {
    const item = document.createElement('li');
    item.dataset.testid = 'activity-item';
    item.dataset.kind = kind;
    const time = document.createElement('time');
    time.textContent = clock();
    const span = document.createElement('span');
    span.textContent = text;
    item.append(time, span);
    this.#list.prepend(item);
    while (this.#list.childElementCount > MAX_ENTRIES) this.#list.lastElementChild?.remove();
  }
}
