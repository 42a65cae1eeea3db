/** Summary statistics for benchmark samples. Pure functions: unit-tested, no timing inside. */

export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of `sorted` (ascending), interpolated linearly between the two
 * nearest ranks (Hyndman & Fan type 7, what spreadsheets and NumPy use by default).
 */
export const quantileSorted = (sorted: readonly number[], q: number): number => {
  if (sorted.length === 0) throw new Error('quantile of an empty sample');
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile must be between 0 and 1, got ${q}`);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
};

const ascending = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

export const quantile = (values: readonly number[], q: number): number =>
  quantileSorted(ascending(values), q);

export const median = (values: readonly number[]): number => quantile(values, 0.5);

export const summarize = (values: readonly number[]): Summary => {
  const sorted = ascending(values);
  if (sorted.length === 0) throw new Error('summary of an empty sample');
  return {
    count: sorted.length,
    min: sorted[0] as number,
    p50: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    p99: quantileSorted(sorted, 0.99),
    max: sorted[sorted.length - 1] as number,
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
  };
};

/**
 * Candidate ÷ baseline, paired round by round, then the median of the per-round ratios. Pairing
 * adjacent rounds cancels slow drift of a noisy machine (thermal, other processes) that pooled
 * samples would carry into the ratio.
 */
export const pairedRatio = (candidate: readonly number[], baseline: readonly number[]): number => {
  if (candidate.length === 0 || candidate.length !== baseline.length)
    throw new Error('paired ratio needs two samples of the same, non-zero length');
  return median(candidate.map((c, i) => c / (baseline[i] as number)));
};

/**
 * Points of the empirical distribution function, at most `maxPoints` of them (evenly spaced in
 * rank), for charts: [value, fraction of samples ≤ value].
 */
export const cdfPoints = (values: readonly number[], maxPoints = 200): Array<[number, number]> => {
  const sorted = ascending(values);
  if (sorted.length === 0) return [];
  const step = Math.max(1, Math.floor(sorted.length / maxPoints));
  const points: Array<[number, number]> = [];
  for (let i = step - 1; i < sorted.length; i += step)
    points.push([sorted[i] as number, (i + 1) / sorted.length]);
  const last = sorted.length - 1;
  if (points.at(-1)?.[1] !== 1) points.push([sorted[last] as number, 1]);
  return points;
};
