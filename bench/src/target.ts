/** One row of the benchmark report: a target id, what was measured and the goal. */
export interface BenchResult {
  /** Target id from SPEC "Targets" (P1 … P8), or a short name for extra figures. */
  id: string;
  /** What the figure is, in a few words. */
  what: string;
  /** The measured figure, with its unit. */
  measured: string;
  /** The target as SPEC states it. */
  target: string;
  /** Whether the target is met; undefined for figures without a target. */
  met?: boolean;
  /** Extra detail (baseline figures from the same run, counts). */
  detail?: string;
}

/** A benchmark module in `src/targets/`; the runner imports each in turn. */
export interface BenchTarget {
  /** Ids this module reports, for `npm run bench -- P3 P4`. */
  ids: string[];
  run(): Promise<BenchResult[]>;
}
