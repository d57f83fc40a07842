/**
 * Latency distributions of the call graph, in the fixed bins of core/latency-bins.ts, and the percentiles read
 * from them.
 *
 * A call report carries, per callee and method and heartbeat interval, the number of calls, the sum of their
 * latencies, the largest one and, from agents of this version on, how many fell in each bin
 * (`latency_buckets`): those counts go into the histogram as they are, and percentiles are exact to within a
 * bin. A report without them (an older agent) goes in as one observation at its maximum and the remaining
 * `calls - 1` at their mean (`(sum - max) / (calls - 1)`): the sum and the maximum stay exact, a report of a single
 * call is exact, and otherwise the percentiles are narrower than the truth (a p99 too low). Pure: no I/O.
 */
import { LATENCY_BINS, LATENCY_BOUNDS_MS, binOf } from '../core/latency-bins.js';

export { LATENCY_BINS, LATENCY_BOUNDS_MS, binOf };

/** Counts per bin (length {@link LATENCY_BINS}). */
export type LatencyHistogram = number[];

/** An empty histogram. */
export function emptyHistogram(): LatencyHistogram {
  return new Array<number>(LATENCY_BINS).fill(0);
}

/** Adds `count` observations of `ms` to `histogram`. */
export function observe(histogram: LatencyHistogram, ms: number, count = 1): void {
  if (count > 0) histogram[binOf(ms)]! += count;
}

/**
 * Adds one call report to `histogram`: its bin counts when the agent sent them; else (calls, sum and maximum of
 * their latencies) one observation at the maximum and the others at their mean, which keeps the sum and the
 * maximum (see the module's comment). Returns the
 * smallest latency it observed (Infinity for none), which tightens the percentiles of the lowest bin.
 */
export function observeReport(
  histogram: LatencyHistogram,
  report: { calls: number; latencyMsSum: number; latencyMsMax: number; latencyBuckets?: readonly number[] },
): number {
  if (report.calls <= 0) return Infinity;
  if (report.latencyBuckets !== undefined && report.latencyBuckets.length > 0) {
    // Counted by the agent: exact to within a bin; the smallest latency is known only to its bin's lower bound.
    let first = -1;
    report.latencyBuckets.forEach((count, bin) => {
      histogram[bin]! += count;
      if (first < 0 && count > 0) first = bin;
    });
    return report.calls === 1 ? report.latencyMsMax : first <= 0 ? 0 : LATENCY_BOUNDS_MS[first - 1]!;
  }
  observe(histogram, report.latencyMsMax);
  if (report.calls === 1) return report.latencyMsMax;
  const rest = Math.max(0, report.latencyMsSum - report.latencyMsMax) / (report.calls - 1);
  observe(histogram, rest, report.calls - 1);
  return rest;
}

/** Adds `from` into `into`. */
export function mergeHistogram(into: LatencyHistogram, from: LatencyHistogram): void {
  for (let bin = 0; bin < LATENCY_BINS; bin += 1) into[bin]! += from[bin] ?? 0;
}

/**
 * The `q` quantile (0 < q ≤ 1) of `histogram`, interpolated linearly within its bin, never above `maxMs` (the
 * largest latency seen, which also closes the last, open bin) nor below `minMs` (the smallest); 0 for an empty
 * histogram.
 */
export function percentile(histogram: LatencyHistogram, q: number, maxMs: number, minMs = 0): number {
  const total = histogram.reduce((sum, count) => sum + count, 0);
  if (total === 0) return 0;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let below = 0;
  for (let bin = 0; bin < LATENCY_BINS; bin += 1) {
    const count = histogram[bin] ?? 0;
    if (count > 0 && below + count >= rank) {
      const lower = Math.min(Math.max(bin === 0 ? 0 : LATENCY_BOUNDS_MS[bin - 1]!, minMs), maxMs);
      const upper = Math.min(LATENCY_BOUNDS_MS[bin] ?? maxMs, maxMs);
      if (upper <= lower) return lower;
      return lower + ((rank - below) / count) * (upper - lower);
    }
    below += count;
  }
  return maxMs;
}

/** p50, p95 and p99 of a histogram, in ms. */
export interface LatencyPercentiles {
  latencyMsP50: number;
  latencyMsP95: number;
  latencyMsP99: number;
}

/** The p50, p95 and p99 of `histogram` (see {@link percentile}). */
export function percentiles(histogram: LatencyHistogram, maxMs: number, minMs = 0): LatencyPercentiles {
  const min = Number.isFinite(minMs) ? minMs : 0;
  return {
    latencyMsP50: percentile(histogram, 0.5, maxMs, min),
    latencyMsP95: percentile(histogram, 0.95, maxMs, min),
    latencyMsP99: percentile(histogram, 0.99, maxMs, min),
  };
}
