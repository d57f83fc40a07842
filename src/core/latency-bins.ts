/**
 * The latency bins that agents count their calls in (`CallReport.latency_buckets`) and the control plane's call
 * graph reads percentiles from: their upper bounds in ms, and a last bin above the last bound. Roughly 1-2-5 per
 * decade from 1 ms to 2 min: agents' calls range from a cache hit to a long model completion. Part of the wire
 * contract: changing them changes what reports mean.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 60_000, 120_000,
];

/** How many bins there are: one per bound and one above the last. */
export const LATENCY_BINS = LATENCY_BOUNDS_MS.length + 1;

/** The bin a latency falls in. */
export function binOf(ms: number): number {
  for (let bin = 0; bin < LATENCY_BOUNDS_MS.length; bin += 1) if (ms <= LATENCY_BOUNDS_MS[bin]!) return bin;
  return LATENCY_BOUNDS_MS.length;
}
