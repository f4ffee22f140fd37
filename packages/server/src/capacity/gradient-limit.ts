import { ConfigError } from '../errors.js';

/**
 * Options of a `GradientLimit`: a concurrency limit that follows measured
 * latency, in the manner of Netflix's Gradient2 and Envoy's adaptive
 * concurrency filter.
 */
export interface GradientLimitOptions {
  /** Lowest limit, whatever latency does; probes never go below it either. @default 10 */
  minLimit?: number;
  /** Highest limit, whatever latency does. @default 1000 */
  maxLimit?: number;
  /** Limit before the first window has been measured. @default 20 */
  initialLimit?: number;
  /** Shortest span of one sample window, in ms; the limit moves once per window. @default 250 */
  windowMs?: number;
  /** Fewest latency samples a window needs before it counts; a window waits for them. @default 20 */
  windowSamples?: number;
  /** Percentile (0–100) of a window's latencies that the limit is steered by. @default 90 */
  latencyPercentile?: number;
  /**
   * How far a window's latency may rise over the no-load latency before the
   * limit falls: at `tolerance` × baseline the limit holds, below it grows,
   * above it shrinks. @default 1.5
   */
  tolerance?: number;
  /**
   * Share of each window's new estimate that moves the limit (1 = jump to
   * it). With the gradient bounded to 0.5–2, one window moves the limit by
   * at most -10 % / +20 % at the default. @default 0.2
   */
  smoothing?: number;
  /**
   * Time between probes of the no-load latency, in ms, stretched by a random
   * share of up to `probeJitter` so that nodes behind one balancer do not
   * probe together. @default 30_000
   */
  probeIntervalMs?: number;
  /** Largest random stretch of `probeIntervalMs`, as a share of it. @default 0.25 */
  probeJitter?: number;
  /**
   * Limit during a probe, as a share of the limit before it (at least
   * `minLimit`, and never below 2): low enough to drain the queue, high
   * enough not to turn most callers away. @default 0.5
   */
  probeFactor?: number;
  /** Latency samples a probe collects before it sets the baseline. @default 20 */
  probeSamples?: number;
  /**
   * Longest probe, in ms: one that cannot drain (long requests hold the
   * slots) or gets too few samples ends without changing the baseline.
   * @default 1_000
   */
  probeTimeoutMs?: number;
}

export const gradientLimitDefaults = {
  minLimit: 10,
  maxLimit: 1000,
  initialLimit: 20,
  windowMs: 250,
  windowSamples: 20,
  latencyPercentile: 90,
  tolerance: 1.5,
  smoothing: 0.2,
  probeIntervalMs: 30_000,
  probeJitter: 0.25,
  probeFactor: 0.5,
  probeSamples: 20,
  probeTimeoutMs: 1_000,
} as const satisfies Required<GradientLimitOptions>;

/** Where a `GradientLimit` reads time (ms, monotonic) and chance from; tests pass fakes. */
export interface GradientLimitClock {
  now(): number;
  random(): number;
}

const realClock: GradientLimitClock = { now: () => performance.now(), random: Math.random };

/** Windows in a row at `minLimit` after which the baseline is probed early (Envoy's rule). */
const WINDOWS_AT_MIN_BEFORE_PROBE = 5;
/** Samples kept per window; past it, a uniform reservoir sample of them. */
const RESERVOIR = 512;
const MIN_GRADIENT = 0.5;
const MAX_GRADIENT = 2;

interface Probe {
  readonly startedAtMs: number;
  readonly limitBefore: number;
  readonly limit: number;
  /** When the slots first fell to the probe's limit; samples started later count. */
  drainedAtMs: number | undefined;
}

/**
 * The control law of adaptive capacity: a concurrency limit steered by the
 * latency of the requests it admitted.
 *
 * Latency is aggregated per window (at least `windowMs` and `windowSamples`)
 * as its `latencyPercentile`, so one slow request moves nothing. The
 * gradient `tolerance × baseline / windowLatency`, bounded to 0.5–2, scales
 * the limit, smoothed by `smoothing` and held within `minLimit`–`maxLimit`.
 * The baseline (no-load latency) is the lowest window seen since the last
 * probe; a probe every `probeIntervalMs` (jittered) lowers the limit to
 * `probeFactor` of itself for `probeSamples` requests to re-measure it, then
 * restores the limit. A probe never pins the limit to 1, and also runs when
 * the limit has sat at `minLimit` for a few windows (a stale baseline).
 *
 * Fed only with requests that completed: rejected requests (no slot) and
 * cancelled ones (the client went away) are not samples, since their
 * latency says nothing about the server. Growth also waits until the
 * limit is used: while fewer than half its slots are busy, flat latency
 * says nothing about more concurrency, so the limit does not rise.
 *
 * No timers: the law moves when samples arrive and when `refresh()` is
 * called, on an injectable clock.
 *
 * @example
 * const law = new GradientLimit({ minLimit: 10, maxLimit: 500 });
 * if (inFlight < law.limit) admit();
 * // when an admitted request completes:
 * law.sample(performance.now() - startedAt, startedAt, inFlight);
 */
export class GradientLimit {
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly #settings: Required<GradientLimitOptions>;
  readonly #clock: GradientLimitClock;
  /** The limit as a real number; `limit` is its integer part. */
  #estimate: number;
  #limit: number;
  #baselineMs: number | undefined;
  #probe: Probe | undefined;
  #nextProbeAtMs: number;
  #windowsAtMin = 0;
  #windowStartMs: number;
  #peakInFlight = 0;
  #seen = 0;
  #kept = 0;
  readonly #samples = new Float64Array(RESERVOIR);

  constructor(options: GradientLimitOptions = {}, clock: GradientLimitClock = realClock) {
    const settings = { ...gradientLimitDefaults, ...options };
    checkOptions(settings);
    this.#settings = settings;
    this.#clock = clock;
    this.minLimit = settings.minLimit;
    this.maxLimit = settings.maxLimit;
    this.#estimate = clamp(settings.initialLimit, settings.minLimit, settings.maxLimit);
    this.#limit = Math.floor(this.#estimate);
    const now = clock.now();
    this.#windowStartMs = now;
    this.#nextProbeAtMs = now + this.#probeDelayMs();
  }

  /** Requests that may hold a slot now (lower during a probe). */
  get limit(): number {
    return this.#probe?.limit ?? this.#limit;
  }

  /** The no-load latency the limit is steered against, in ms; undefined before the first window. */
  get baselineMs(): number | undefined {
    return this.#baselineMs;
  }

  /** True while a probe re-measures the baseline. */
  get probing(): boolean {
    return this.#probe !== undefined;
  }

  /**
   * Records one completed request: its latency, when it started (the clock's
   * time) and the requests holding a slot as it ended, itself included.
   */
  sample(latencyMs: number, startedAtMs: number, inFlight: number): void {
    if (!(latencyMs >= 0) || !Number.isFinite(latencyMs)) return;
    const now = this.#clock.now();
    const probe = this.#probe;
    if (probe !== undefined) {
      this.#probeSample(probe, latencyMs, startedAtMs, inFlight, now);
      return;
    }
    this.#keep(latencyMs);
    if (inFlight > this.#peakInFlight) this.#peakInFlight = inFlight;
    if (
      now - this.#windowStartMs >= this.#settings.windowMs &&
      this.#seen >= this.#settings.windowSamples
    ) {
      this.#closeWindow(now, inFlight);
    }
  }

  /** Ends a probe that has run longer than `probeTimeoutMs`; cheap, call it before shedding. */
  refresh(): void {
    const probe = this.#probe;
    if (
      probe !== undefined &&
      this.#clock.now() - probe.startedAtMs >= this.#settings.probeTimeoutMs
    ) {
      this.#endProbe(this.#clock.now(), false);
    }
  }

  #keep(latencyMs: number): void {
    this.#seen += 1;
    if (this.#kept < RESERVOIR) {
      this.#samples[this.#kept] = latencyMs;
      this.#kept += 1;
      return;
    }
    const slot = Math.floor(this.#clock.random() * this.#seen);
    if (slot < RESERVOIR) this.#samples[slot] = latencyMs;
  }

  #percentile(): number {
    const sorted = this.#samples.subarray(0, this.#kept).sort();
    const rank = Math.ceil((this.#settings.latencyPercentile / 100) * sorted.length) - 1;
    return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
  }

  #resetWindow(now: number): void {
    this.#windowStartMs = now;
    this.#seen = 0;
    this.#kept = 0;
    this.#peakInFlight = 0;
  }

  #closeWindow(now: number, inFlight: number): void {
    const { tolerance, smoothing, minLimit, maxLimit } = this.#settings;
    const latency = this.#percentile();
    const appLimited = this.#peakInFlight < this.#estimate / 2;
    this.#resetWindow(now);
    if (this.#baselineMs === undefined || latency < this.#baselineMs) this.#baselineMs = latency;
    let gradient = clamp((tolerance * this.#baselineMs) / latency, MIN_GRADIENT, MAX_GRADIENT);
    if (appLimited) gradient = Math.min(1, gradient);
    let target = this.#estimate * gradient;
    // Below 1/smoothing a gradient > 1 would not move the integer limit.
    if (gradient > 1) target = Math.max(target, this.#estimate + 1 / smoothing);
    this.#estimate = clamp(
      this.#estimate * (1 - smoothing) + target * smoothing,
      minLimit,
      maxLimit,
    );
    this.#limit = Math.floor(this.#estimate);
    this.#windowsAtMin = this.#limit <= minLimit ? this.#windowsAtMin + 1 : 0;
    if (now >= this.#nextProbeAtMs || this.#windowsAtMin >= WINDOWS_AT_MIN_BEFORE_PROBE) {
      this.#startProbe(now, inFlight);
    }
  }

  #startProbe(now: number, inFlight: number): void {
    const limit = Math.max(2, this.minLimit, Math.ceil(this.#limit * this.#settings.probeFactor));
    this.#probe = {
      startedAtMs: now,
      limitBefore: this.#limit,
      limit: Math.min(limit, this.#limit),
      // The request that just ended leaves inFlight - 1 holding slots.
      drainedAtMs: inFlight - 1 < limit ? now : undefined,
    };
    this.#windowsAtMin = 0;
  }

  #probeSample(
    probe: Probe,
    latencyMs: number,
    startedAtMs: number,
    inFlight: number,
    now: number,
  ): void {
    if (probe.drainedAtMs === undefined) {
      if (inFlight - 1 < probe.limit) probe.drainedAtMs = now;
    } else if (startedAtMs >= probe.drainedAtMs) {
      this.#keep(latencyMs);
    }
    if (this.#seen >= this.#settings.probeSamples) this.#endProbe(now, true);
    else if (now - probe.startedAtMs >= this.#settings.probeTimeoutMs) this.#endProbe(now, false);
  }

  #endProbe(now: number, measured: boolean): void {
    const probe = this.#probe;
    if (probe === undefined) return;
    if (measured) this.#baselineMs = this.#percentile();
    this.#probe = undefined;
    this.#limit = probe.limitBefore;
    this.#nextProbeAtMs = now + this.#probeDelayMs();
    this.#resetWindow(now);
  }

  #probeDelayMs(): number {
    const { probeIntervalMs, probeJitter } = this.#settings;
    return probeIntervalMs * (1 + probeJitter * this.#clock.random());
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function checkOptions(settings: Required<GradientLimitOptions>): void {
  const fail = (name: keyof GradientLimitOptions, rule: string) => {
    throw new ConfigError(`capacity.${name}`, settings[name], rule);
  };
  const positiveInteger = (name: keyof GradientLimitOptions) => {
    if (!Number.isInteger(settings[name]) || settings[name] < 1) fail(name, 'a positive integer');
  };
  const positive = (name: keyof GradientLimitOptions) => {
    if (!(settings[name] > 0) || !Number.isFinite(settings[name])) fail(name, 'a positive number');
  };
  for (const name of [
    'minLimit',
    'maxLimit',
    'initialLimit',
    'windowSamples',
    'probeSamples',
  ] as const) {
    positiveInteger(name);
  }
  for (const name of ['windowMs', 'probeIntervalMs', 'probeTimeoutMs'] as const) positive(name);
  if (settings.maxLimit < settings.minLimit)
    fail('maxLimit', `at least minLimit (${settings.minLimit})`);
  if (!(settings.latencyPercentile > 0 && settings.latencyPercentile <= 100)) {
    fail('latencyPercentile', 'in (0, 100]');
  }
  if (!(settings.tolerance >= 1) || !Number.isFinite(settings.tolerance))
    fail('tolerance', 'at least 1');
  if (!(settings.smoothing > 0 && settings.smoothing <= 1)) fail('smoothing', 'in (0, 1]');
  if (!(settings.probeJitter >= 0 && settings.probeJitter <= 1)) fail('probeJitter', 'in [0, 1]');
  if (!(settings.probeFactor > 0 && settings.probeFactor <= 1)) fail('probeFactor', 'in (0, 1]');
}
