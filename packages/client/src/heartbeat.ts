import type { HeartbeatResult } from './protocol.js';

/** What the `heartbeat` event carries. */
export interface HeartbeatReport extends HeartbeatResult {
  /** Round trip of this heartbeat, in milliseconds. */
  rttMs: number;
  /** The delay until the next heartbeat, in milliseconds. */
  intervalMs: number;
}

/** The shortest heartbeat interval the client accepts, whatever the server's timeout. */
export const MIN_HEARTBEAT_INTERVAL_MS = 1_000;

/**
 * The heartbeat interval: the configured one, but at most a third of the
 * server's session timeout. A third leaves room for two late or lost beats;
 * it is also what keeps a background tab alive, whose timers browsers throttle
 * to about one per minute: with the server's default 60 min timeout a beat
 * every 60 s (or even every few minutes) is still far inside the timeout.
 *
 * @example
 * heartbeatIntervalFor(60_000, 30 * 60_000); // 60000
 * heartbeatIntervalFor(60_000, 90_000); // 30000
 */
export function heartbeatIntervalFor(configuredMs: number, sessionTimeoutMs?: number): number {
  const ceiling =
    sessionTimeoutMs !== undefined && sessionTimeoutMs > 0
      ? Math.floor(sessionTimeoutMs / 3)
      : configuredMs;
  return Math.max(MIN_HEARTBEAT_INTERVAL_MS, Math.min(configuredMs, ceiling));
}

/** How {@link HeartbeatTimer} beats and reports. */
export interface HeartbeatTimerOptions {
  /** The configured interval, before the server's timeout lowers it. */
  intervalMs: number;
  /** Sends one heartbeat. */
  beat: () => Promise<HeartbeatResult>;
  /** Called after each successful beat. */
  onBeat: (report: HeartbeatReport) => void;
  /** Called when a beat fails; the timer keeps going. */
  onError: (error: unknown) => void;
  /** Clock for round trips. @default performance.now */
  now?: () => number;
}

/**
 * Beats on a `setTimeout` chain (never `setInterval`): each beat schedules the
 * next once it has finished, with the interval the last answer allows, so
 * beats never pile up behind a slow server or a throttled tab. `stop()` clears
 * the timer; a beat in flight then schedules nothing.
 */
export class HeartbeatTimer {
  readonly #options: HeartbeatTimerOptions;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #generation = 0;
  #sessionTimeoutMs: number | undefined;

  constructor(options: HeartbeatTimerOptions) {
    this.#options = options;
    this.#now = options.now ?? defaultNow;
  }

  /** The delay between beats as of the last answer. */
  get intervalMs(): number {
    return heartbeatIntervalFor(this.#options.intervalMs, this.#sessionTimeoutMs);
  }

  /** True once a beat told the server's timeout. */
  get knowsTimeout(): boolean {
    return this.#sessionTimeoutMs !== undefined;
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.#running;
  }

  /** Starts beating: the first beat after one interval, or at once with `immediately`. */
  start(immediately = false): void {
    this.stop();
    this.#running = true;
    if (immediately) void this.beatNow();
    else this.#schedule();
  }

  /** Stops beating and clears the timer. */
  stop(): void {
    this.#running = false;
    this.#generation += 1;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Beats now, then goes on with the usual interval while running. */
  async beatNow(): Promise<HeartbeatReport | undefined> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const generation = this.#generation;
    const started = this.#now();
    let report: HeartbeatReport | undefined;
    try {
      const result = await this.#options.beat();
      this.#sessionTimeoutMs = result.sessionTimeoutMs;
      report = { ...result, rttMs: this.#now() - started, intervalMs: this.intervalMs };
    } catch (error) {
      if (generation === this.#generation) this.#options.onError(error);
    }
    if (generation !== this.#generation) return report;
    if (report !== undefined) this.#options.onBeat(report);
    if (this.#running) this.#schedule();
    return report;
  }

  #schedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.beatNow();
    }, this.intervalMs);
  }
}

function defaultNow(): number {
  return globalThis.performance?.now() ?? Date.now();
}
