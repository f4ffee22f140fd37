import type { SessionInfo } from '@morgan/session-client';
import { setText } from '../shared/dom.js';

/** What the editor needs from the page's session client. */
export interface NicknameDeps {
  /** `session.updateMetadata` with the version the edit started from. */
  update(patch: { nickname: string }, ifVersion: number): Promise<SessionInfo>;
  /** `session.get`: the metadata as stored now. */
  read(): Promise<SessionInfo>;
}

/** What a save came to: saved, or refused because another tab of the session saved first. */
export type NicknameOutcome = 'saved' | 'conflict' | 'failed';

/**
 * The session's nickname, kept in its metadata and saved with `ifVersion`:
 * two tabs of one session (`?storage=local`) that edit it at once cannot
 * overwrite each other unseen, as express-session's last write wins would.
 * The tab that saves from a stale version gets 409 `VERSION_CONFLICT`, shows
 * the nickname the other tab saved, and may save again from there.
 */
export class NicknameEditor {
  readonly #deps: NicknameDeps;
  readonly #input: HTMLInputElement;
  readonly #status: HTMLElement;
  /** The metadata version this tab last read; saves are made against it. */
  #version = 0;

  constructor(deps: NicknameDeps, input: HTMLInputElement, status: HTMLElement) {
    this.#deps = deps;
    this.#input = input;
    this.#status = status;
  }

  /** Shows the session as the server reported it (create, resume, replacement). */
  show(session: SessionInfo): void {
    this.#version = session.metadataVersion;
    this.#status.dataset.version = String(session.metadataVersion);
    const nickname = session.metadata.nickname;
    this.#input.value = typeof nickname === 'string' ? nickname : '';
  }

  async save(): Promise<NicknameOutcome> {
    const nickname = this.#input.value.trim();
    try {
      this.show(await this.#deps.update({ nickname }, this.#version));
      this.#report('saved', `Saved (metadata version ${this.#version}).`);
      return 'saved';
    } catch (error) {
      if (errorCodeOf(error) !== 'VERSION_CONFLICT') {
        this.#report('failed', `Not saved: ${error instanceof Error ? error.message : error}`);
        return 'failed';
      }
      const current = await this.#deps.read().catch(() => undefined);
      if (current !== undefined) this.show(current);
      this.#report(
        'conflict',
        `Another tab saved first (version ${this.#version}); this is its nickname. Save again to replace it.`,
      );
      return 'conflict';
    }
  }

  #report(outcome: NicknameOutcome, text: string): void {
    this.#status.dataset.outcome = outcome;
    setText(this.#status, text);
  }
}

function errorCodeOf(error: unknown): string | undefined {
  const data = (error as { data?: { errorCode?: unknown } | null }).data;
  return typeof data?.errorCode === 'string' ? data.errorCode : undefined;
}
