/**
 * The few statistics the benchmark reports. Every figure is the median of
 * repeated trials with the smallest and largest beside it, because one run
 * on a shared two-core machine says little on its own.
 */

/** Median, smallest and largest of a figure over its trials. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every trial's value, in the order the trials ran. */
  trials: number[];
}

/** The `p`-th percentile (0–100) by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The middle value; the mean of the two middle ones for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function spread(trials: readonly number[]): Spread {
  return {
    median: median(trials),
    min: Math.min(...trials),
    max: Math.max(...trials),
    trials: [...trials],
  };
}

/** Spread of `pick` over trial results. */
export function spreadOf<T>(results: readonly T[], pick: (result: T) => number): Spread {
  return spread(results.map(pick));
}
