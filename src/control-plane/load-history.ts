/**
 * Each agent's load over the last hour, per minute: the most calls in flight and queued it reported in that minute,
 * and the latest. Bounded: {@link LOAD_HISTORY_BUCKETS} buckets per agent and at most `maxAgents` agents (a new
 * agent beyond that is not tracked; a deregistered agent's history is forgotten). Pure: no timers, no I/O.
 */

/** One minute (or bucket) of an agent's load. */
export interface LoadPoint {
  /** The bucket's start (ms since the epoch). */
  at: number;
  maxInFlight: number;
  maxQueueDepth: number;
  /** The latest report in the bucket. */
  inFlight: number;
  queueDepth: number;
}

/** Buckets kept per agent by default: an hour of minutes. */
export const LOAD_HISTORY_BUCKETS = 60;

/** Options for {@link LoadHistory}. */
export interface LoadHistoryOptions {
  /** Length of a bucket (default 60 s). */
  bucketMs?: number;
  /** Buckets kept per agent (default {@link LOAD_HISTORY_BUCKETS}). */
  buckets?: number;
  /** Most agents tracked at once (default 4,096). */
  maxAgents?: number;
  clock?: { now(): number };
}

/** Per-agent, per-bucket load reports (see the module's comment). */
export class LoadHistory {
  private readonly bucketMs: number;
  private readonly bucketCount: number;
  private readonly maxAgents: number;
  private readonly clock: { now(): number };
  /** Agent id → its buckets, oldest first, at most `bucketCount`. */
  private readonly agents = new Map<string, LoadPoint[]>();

  constructor(options: LoadHistoryOptions = {}) {
    this.bucketMs = Math.max(1, options.bucketMs ?? 60_000);
    this.bucketCount = Math.max(1, options.buckets ?? LOAD_HISTORY_BUCKETS);
    this.maxAgents = Math.max(1, options.maxAgents ?? 4_096);
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  /** How many agents have a history. */
  get size(): number {
    return this.agents.size;
  }

  /** Records a load report of `agentId` now. */
  record(agentId: string, load: { inFlight: number; queueDepth: number }): void {
    let points = this.agents.get(agentId);
    if (!points) {
      if (this.agents.size >= this.maxAgents) return;
      points = [];
      this.agents.set(agentId, points);
    }
    const at = Math.floor(this.clock.now() / this.bucketMs) * this.bucketMs;
    let last = points.at(-1);
    if (!last || last.at !== at) {
      last = { at, maxInFlight: 0, maxQueueDepth: 0, inFlight: 0, queueDepth: 0 };
      points.push(last);
      if (points.length > this.bucketCount) points.splice(0, points.length - this.bucketCount);
    }
    last.inFlight = load.inFlight;
    last.queueDepth = load.queueDepth;
    last.maxInFlight = Math.max(last.maxInFlight, load.inFlight);
    last.maxQueueDepth = Math.max(last.maxQueueDepth, load.queueDepth);
  }

  /** Forgets an agent (it left). */
  forget(agentId: string): void {
    this.agents.delete(agentId);
  }

  /** The agent's buckets within the last `lastMs` (default: all kept), oldest first; copies. */
  points(agentId: string, lastMs = Infinity): LoadPoint[] {
    const span = Math.min(lastMs, this.bucketMs * this.bucketCount);
    // Whole buckets, the current one included (as the call graph counts them).
    const oldest = (Math.floor((this.clock.now() - span) / this.bucketMs) + 1) * this.bucketMs;
    return (this.agents.get(agentId) ?? [])
      .filter((point) => point.at >= oldest)
      .map((point) => ({ ...point }));
  }
}
