/**
 * Who calls whom, from the call reports agents send with their heartbeats.
 *
 * Each replica of the control plane sees only the heartbeats it receives: with several replicas behind one
 * address, an agent's reports land on whichever replica its connection reached, so every replica's graph is a
 * part of the whole (the parts add up; nothing is shared through the store, which would put every report on the
 * write path). A dashboard on one replica shows the calls of the agents connected to that replica.
 */

import type { CallReport } from '../core/call-report.js';
import type { Result } from '../core/errors.js';
import { LATENCY_BINS } from '../core/latency-bins.js';
import {
  emptyHistogram,
  mergeHistogram,
  observeReport,
  percentiles,
  type LatencyHistogram,
} from './latency-histogram.js';

export type { CallReport };

/** One edge of the graph, over the window: from a caller to a callee (agents, or types when aggregated). */
export interface CallEdge {
  /** Caller agent id, or caller type in the by-type view. */
  from: string;
  fromType: string;
  /** Callee agent id, or callee type in the by-type view. */
  to: string;
  toType: string;
  /** Methods called, sorted (at most {@link MAX_METHODS_PER_EDGE}). */
  methods: string[];
  calls: number;
  errors: number;
  /** Calls per second over the window. */
  ratePerSecond: number;
  /** errors / calls. */
  errorRatio: number;
  latencyMsMean: number;
  latencyMsMax: number;
  /**
   * Latency percentiles from the reports' bin counts, to within a bin; for reports without counts (older
   * agents), estimated from their sums and maxima (see latency-histogram.ts).
   */
  latencyMsP50: number;
  /** The 95th percentile, as {@link CallEdge.latencyMsP50}. */
  latencyMsP95: number;
  /** The 99th percentile, as {@link CallEdge.latencyMsP50}. */
  latencyMsP99: number;
  /** The latest failure reported on this edge in the window, and when it was reported. */
  lastError?: string;
  lastErrorAt?: number;
}

/** What {@link CallGraph.record} did with a heartbeat's reports. */
export interface RecordOutcome {
  /** Reports added to the graph. */
  accepted: CallReport[];
  /** Reports ignored: malformed, beyond the per-heartbeat cap, or beyond the edge cap. */
  rejected: number;
  /** Why, for the first few ignored reports (for a debug log). */
  problems: string[];
}

/** Options for {@link CallGraph}. */
export interface CallGraphOptions {
  /** How far back edges are kept (default 60 s). */
  windowMs?: number;
  /** Granularity of the window: reports are summed per bucket, and whole buckets age out (default 5 s). */
  bucketMs?: number;
  /** Most distinct caller→callee edges and methods kept per bucket, to bound memory (default 4,096). */
  maxEdgesPerBucket?: number;
  clock?: { now(): number };
}

/** Most reports taken from one heartbeat (the contract's limit); the rest are ignored. */
export const MAX_REPORTS_PER_HEARTBEAT = 256;
/** Most method names remembered per edge. */
export const MAX_METHODS_PER_EDGE = 16;
const MAX_METHOD_LENGTH = 256;
const MAX_ERROR_LENGTH = 300;
const MAX_PROBLEMS = 5;
// Agent ids are identity names and types are type tokens: both are one short segment. Checked loosely here (the
// registry validated the real ones); what matters is that a report cannot make the graph hold huge strings.
const NAME = /^[A-Za-z0-9._-]{1,63}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

interface Accumulator {
  from: string;
  fromType: string;
  to: string;
  toType: string;
  methods: Set<string>;
  calls: number;
  errors: number;
  latencyMsSum: number;
  latencyMsMax: number;
  /** The smallest latency the histogram holds (Infinity before the first). */
  latencyMsMin: number;
  histogram: LatencyHistogram;
  lastError?: string;
  lastErrorAt?: number;
}

/** One bucket of time of an agent's calls: what it made (out) and received (in). */
export interface CallSeriesPoint {
  /** The bucket's start (ms since the epoch). */
  at: number;
  callsOut: number;
  errorsOut: number;
  callsIn: number;
  errorsIn: number;
}

function finiteNonNegative(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Checks one report and returns it cleaned (errors at most calls, the maximum latency at most the sum, the error
 * message without control characters and shortened), or why it was refused. A report of zero calls is refused
 * too: it says nothing.
 */
export function validateCallReport(report: CallReport): Result<CallReport, string> {
  if (typeof report.calleeId !== 'string' || !NAME.test(report.calleeId))
    return { ok: false, error: `callee id "${String(report.calleeId).slice(0, 80)}" is not an agent id` };
  if (typeof report.calleeType !== 'string' || !NAME.test(report.calleeType))
    return {
      ok: false,
      error: `callee type "${String(report.calleeType).slice(0, 80)}" is not an agent type`,
    };
  if (
    typeof report.method !== 'string' ||
    report.method.length === 0 ||
    report.method.length > MAX_METHOD_LENGTH ||
    CONTROL_CHARACTER.test(report.method)
  ) {
    return { ok: false, error: `method must be 1-${MAX_METHOD_LENGTH} printable characters` };
  }
  if (!Number.isSafeInteger(report.calls) || report.calls <= 0)
    return { ok: false, error: 'calls must be a whole number above 0' };
  if (!Number.isSafeInteger(report.errors) || report.errors < 0)
    return { ok: false, error: 'errors must be a whole number' };
  if (!finiteNonNegative(report.latencyMsSum) || !finiteNonNegative(report.latencyMsMax))
    return { ok: false, error: 'latencies must be finite and not negative' };
  // Bin counts are used only when they add up (an older agent sends none): else the estimate from the sum and max.
  const buckets = Array.isArray(report.latencyBuckets) ? report.latencyBuckets : [];
  const counted =
    buckets.length > 0 &&
    buckets.length <= LATENCY_BINS &&
    buckets.every((count) => Number.isSafeInteger(count) && count >= 0) &&
    buckets.reduce((sum, count) => sum + count, 0) === report.calls;
  const lastError =
    typeof report.lastError === 'string'
      ? report.lastError.replace(CONTROL_CHARACTERS, ' ').slice(0, MAX_ERROR_LENGTH)
      : '';
  return {
    ok: true,
    value: {
      calleeId: report.calleeId,
      calleeType: report.calleeType,
      method: report.method,
      calls: report.calls,
      errors: Math.min(report.errors, report.calls),
      latencyMsSum: report.latencyMsSum,
      latencyMsMax: Math.min(report.latencyMsMax, report.latencyMsSum),
      lastError,
      ...(counted ? { latencyBuckets: [...buckets] } : {}),
    },
  };
}

function merge(into: Accumulator, from: Accumulator): void {
  for (const method of from.methods) {
    if (into.methods.size >= MAX_METHODS_PER_EDGE) break;
    into.methods.add(method);
  }
  into.calls += from.calls;
  into.errors += from.errors;
  into.latencyMsSum += from.latencyMsSum;
  into.latencyMsMax = Math.max(into.latencyMsMax, from.latencyMsMax);
  into.latencyMsMin = Math.min(into.latencyMsMin, from.latencyMsMin);
  mergeHistogram(into.histogram, from.histogram);
  if (
    from.lastErrorAt !== undefined &&
    (into.lastErrorAt === undefined || from.lastErrorAt >= into.lastErrorAt)
  ) {
    into.lastError = from.lastError;
    into.lastErrorAt = from.lastErrorAt;
  }
}

function copy(accumulator: Accumulator, key?: { from: string; to: string }): Accumulator {
  return {
    ...accumulator,
    ...key,
    methods: new Set(accumulator.methods),
    histogram: [...accumulator.histogram],
  };
}

function toEdge(accumulator: Accumulator, windowSeconds: number): CallEdge {
  return {
    from: accumulator.from,
    fromType: accumulator.fromType,
    to: accumulator.to,
    toType: accumulator.toType,
    methods: [...accumulator.methods].sort(),
    calls: accumulator.calls,
    errors: accumulator.errors,
    ratePerSecond: accumulator.calls / windowSeconds,
    errorRatio: accumulator.calls === 0 ? 0 : accumulator.errors / accumulator.calls,
    latencyMsMean: accumulator.calls === 0 ? 0 : accumulator.latencyMsSum / accumulator.calls,
    latencyMsMax: accumulator.latencyMsMax,
    ...percentiles(accumulator.histogram, accumulator.latencyMsMax, accumulator.latencyMsMin),
    ...(accumulator.lastError
      ? { lastError: accumulator.lastError, lastErrorAt: accumulator.lastErrorAt }
      : {}),
  };
}

function byRateThenName(a: CallEdge, b: CallEdge): number {
  return b.calls - a.calls || (a.from + a.to < b.from + b.to ? -1 : 1);
}

/**
 * A sliding window of the calls agents report: per bucket of time, the sum of the reports for each caller→callee
 * pair; buckets older than the window are dropped. It answers the edges by agent and by type with their rate,
 * error ratio, mean and maximum latency and latest error. Pure: no timers, no I/O; the clock is injected.
 */
export class CallGraph {
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly maxEdgesPerBucket: number;
  private readonly clock: { now(): number };
  /** Bucket index (time / bucketMs) → edges reported in it, keyed by caller and callee id. */
  private readonly buckets = new Map<number, Map<string, Accumulator>>();
  /** When the graph started to listen: before that, nothing could be reported, so rates do not count that time. */
  private readonly startedAt: number;

  constructor(options: CallGraphOptions = {}) {
    this.bucketMs = Math.max(1, options.bucketMs ?? 5_000);
    this.windowMs = Math.max(this.bucketMs, options.windowMs ?? 60_000);
    this.maxEdgesPerBucket = options.maxEdgesPerBucket ?? 4_096;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.startedAt = this.clock.now();
  }

  /** The window's length in seconds. */
  get windowSeconds(): number {
    return this.windowMs / 1_000;
  }

  /**
   * Adds the reports of one heartbeat from agent `caller` (its id and type, from the registry). Malformed reports
   * and those beyond {@link MAX_REPORTS_PER_HEARTBEAT} are ignored and counted; the rest are kept.
   */
  record(caller: { id: string; type: string }, reports: readonly CallReport[]): RecordOutcome {
    const outcome: RecordOutcome = { accepted: [], rejected: 0, problems: [] };
    const refuse = (why: string) => {
      outcome.rejected += 1;
      if (outcome.problems.length < MAX_PROBLEMS) outcome.problems.push(why);
    };
    if (reports.length === 0) return outcome;
    const now = this.clock.now();
    this.prune(now);
    const index = Math.floor(now / this.bucketMs);
    let bucket = this.buckets.get(index);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(index, bucket);
    }
    for (const [position, raw] of reports.entries()) {
      if (position >= MAX_REPORTS_PER_HEARTBEAT) {
        refuse(`more than ${MAX_REPORTS_PER_HEARTBEAT} reports in one heartbeat`);
        outcome.rejected += reports.length - position - 1;
        break;
      }
      const checked = validateCallReport(raw);
      if (!checked.ok) {
        refuse(checked.error);
        continue;
      }
      const report = checked.value;
      // Kept per method, so that `methodEdges` can tell them apart; the other views sum a pair's methods.
      const key = `${caller.id}\n${report.calleeId}\n${report.method}`;
      let edge = bucket.get(key);
      if (!edge) {
        if (bucket.size >= this.maxEdgesPerBucket) {
          refuse(`more than ${this.maxEdgesPerBucket} edges in ${this.bucketMs} ms`);
          continue;
        }
        edge = {
          from: caller.id,
          fromType: caller.type,
          to: report.calleeId,
          toType: report.calleeType,
          methods: new Set(),
          calls: 0,
          errors: 0,
          latencyMsSum: 0,
          latencyMsMax: 0,
          latencyMsMin: Infinity,
          histogram: emptyHistogram(),
        };
        bucket.set(key, edge);
      }
      if (edge.methods.size < MAX_METHODS_PER_EDGE) edge.methods.add(report.method);
      edge.calls += report.calls;
      edge.errors += report.errors;
      edge.latencyMsSum += report.latencyMsSum;
      edge.latencyMsMax = Math.max(edge.latencyMsMax, report.latencyMsMax);
      edge.latencyMsMin = Math.min(edge.latencyMsMin, observeReport(edge.histogram, report));
      if (report.errors > 0 && report.lastError) {
        edge.lastError = report.lastError;
        edge.lastErrorAt = now;
      }
      // The latest report names the types (an agent that re-registered with another type moves with it).
      edge.fromType = caller.type;
      edge.toType = report.calleeType;
      outcome.accepted.push(report);
    }
    return outcome;
  }

  /**
   * The edges between agents over the window, or over its last `lastMs` (whole buckets, the current one
   * included), busiest first.
   */
  agentEdges(lastMs?: number): CallEdge[] {
    const { sums, seconds } = this.sumAgents(lastMs);
    return [...sums.values()].map((a) => toEdge(a, seconds)).sort(byRateThenName);
  }

  /**
   * The edges between agents per method over the window, or over its last `lastMs`: one edge for each caller,
   * callee and method (`methods` names that one), busiest first. What `agent-mesh top` shows.
   */
  methodEdges(lastMs?: number): CallEdge[] {
    const { sums, seconds } = this.sum(lastMs, (key) => key);
    return [...sums.values()].map((a) => toEdge(a, seconds)).sort(byRateThenName);
  }

  /**
   * The edges between agent types over the window or its last `lastMs` (the sum of their agents' edges), busiest
   * first.
   */
  typeEdges(lastMs?: number): CallEdge[] {
    const types = new Map<string, Accumulator>();
    const { sums, seconds } = this.sumAgents(lastMs);
    for (const edge of sums.values()) {
      const key = `${edge.fromType}\n${edge.toType}`;
      const into = types.get(key);
      if (into) merge(into, edge);
      else types.set(key, copy(edge, { from: edge.fromType, to: edge.toType }));
    }
    return [...types.values()].map((a) => toEdge(a, seconds)).sort(byRateThenName);
  }

  /**
   * Every agent edge summed over the kept buckets, and the time they cover in seconds, which rates are computed
   * over: from the start of the oldest kept bucket to now (a little less than the window, as the oldest bucket that
   * was partly outside it is gone), or from when the graph started if that is later, so that a young control plane
   * does not understate the rates by dividing by a window it has not lived through yet.
   */
  private sumAgents(lastMs?: number): { sums: Map<string, Accumulator>; seconds: number } {
    return this.sum(lastMs, (key) => key.slice(0, key.lastIndexOf('\n')));
  }

  /** The kept buckets' entries summed by `group` of their key (caller, callee and method, one per line). */
  private sum(
    lastMs: number | undefined,
    group: (key: string) => string,
  ): { sums: Map<string, Accumulator>; seconds: number } {
    const now = this.clock.now();
    this.prune(now);
    const sums = new Map<string, Accumulator>();
    const oldest = this.oldestBucket(now, lastMs);
    // Oldest bucket first, so the newest bucket's types win.
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      if (index < oldest) continue;
      for (const [entry, edge] of this.buckets.get(index)!) {
        const key = group(entry);
        const into = sums.get(key);
        if (into) {
          merge(into, edge);
          into.fromType = edge.fromType;
          into.toType = edge.toType;
        } else {
          sums.set(key, copy(edge));
        }
      }
    }
    const covered = now - Math.max(oldest * this.bucketMs, this.startedAt);
    return { sums, seconds: Math.max(1, covered) / 1_000 };
  }

  /**
   * Per bucket over the window or its last `lastMs`, oldest first: the calls `agentId` made and received, and
   * how many failed. Buckets without calls are there too, with zeros.
   */
  series(agentId: string, lastMs?: number): CallSeriesPoint[] {
    const now = this.clock.now();
    this.prune(now);
    const points: CallSeriesPoint[] = [];
    const newest = Math.floor(now / this.bucketMs);
    for (let index = this.oldestBucket(now, lastMs); index <= newest; index += 1) {
      const point = { at: index * this.bucketMs, callsOut: 0, errorsOut: 0, callsIn: 0, errorsIn: 0 };
      for (const edge of this.buckets.get(index)?.values() ?? []) {
        if (edge.from === agentId) {
          point.callsOut += edge.calls;
          point.errorsOut += edge.errors;
        }
        if (edge.to === agentId) {
          point.callsIn += edge.calls;
          point.errorsIn += edge.errors;
        }
      }
      points.push(point);
    }
    return points;
  }

  /** The first bucket of the window, or of its last `lastMs` when that is shorter. */
  private oldestBucket(now: number, lastMs?: number): number {
    const span = lastMs === undefined ? this.windowMs : Math.min(this.windowMs, Math.max(1, lastMs));
    return Math.floor((now - span) / this.bucketMs) + 1;
  }

  private prune(now: number): void {
    const oldest = this.oldestBucket(now);
    for (const index of this.buckets.keys()) {
      if (index < oldest || index > Math.floor(now / this.bucketMs)) this.buckets.delete(index);
    }
  }
}
