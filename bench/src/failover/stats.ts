// Small statistics of P8's samples (ms): percentiles, spread, histogram.

/** Summary of a sample, ms. */
export interface Spread {
  n: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
  stddev: number;
  iqr: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function spreadOf(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = n === 0 ? Number.NaN : sorted.reduce((sum, v) => sum + v, 0) / n;
  const variance = n === 0 ? Number.NaN : sorted.reduce((sum, v) => sum + (v - mean) ** 2, 0) / n;
  const round = (v: number) => Math.round(v);
  return {
    n,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(mean),
    stddev: round(Math.sqrt(variance)),
    iqr: round(percentile(sorted, 75) - percentile(sorted, 25)),
  };
}

/** Counts per bucket, the bucket a round 100 ms or more so that about 20 cover the range. */
export function histogramOf(values: readonly number[]): string {
  if (values.length === 0) return '-';
  const max = Math.max(...values);
  const width = Math.max(100, Math.ceil(max / 20 / 100) * 100);
  const counts = new Map<number, number>();
  for (const value of values) {
    const bucket = Math.floor(value / width) * width;
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  }
  const out: string[] = [];
  for (let bucket = 0; bucket <= max; bucket += width)
    out.push(`${bucket}:${counts.get(bucket) ?? 0}`);
  return out.join(' ');
}
