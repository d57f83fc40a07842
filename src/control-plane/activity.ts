import type { CallReport } from './call-graph.js';
import type { StateChange } from './state.js';

/** What happened, for filtering and icons. */
export type ActivityKind =
  | 'joined'
  | 'left'
  | 'expired'
  | 'health'
  | 'draining'
  | 'call-failures'
  | 'certificate'
  | 'policies'
  | 'control-plane';

/** How much an operator should care. */
export type ActivitySeverity = 'info' | 'warning' | 'error';

/** An event to add to the log. */
export interface ActivityInput {
  kind: ActivityKind;
  severity: ActivitySeverity;
  message: string;
  agentId?: string;
  agentType?: string;
  /** The other agent it concerns: the callee of failing calls (its page lists them too). */
  peerId?: string;
  /**
   * Events with the same key within the coalescing time merge into one entry (its count goes up, its message and
   * time are the latest): a failing edge reported on every heartbeat is one line, not a flood.
   */
  key?: string;
}

/** One entry of the log. */
export interface ActivityEntry {
  /** Increases with every entry added or merged; an entry that merges gets a new one. */
  seq: number;
  /** When it last happened (ms since the epoch). */
  at: number;
  /** When it first happened, for a merged entry. */
  firstAt: number;
  /** How many events this entry stands for. */
  count: number;
  kind: ActivityKind;
  severity: ActivitySeverity;
  message: string;
  agentId?: string;
  agentType?: string;
  /** The other agent it concerns: the callee of failing calls. */
  peerId?: string;
}

/**
 * Distinct call-failure entries one caller can have in the log within the coalescing time; further failures of
 * that caller merge into one entry of its own. An agent reports up to 256 edges per heartbeat, each with its own
 * error text: without this it could fill the log with lines of its own.
 */
export const MAX_FAILURE_ENTRIES_PER_CALLER = 3;

/** Options for {@link ActivityLog}. */
export interface ActivityLogOptions {
  /**
   * Entries kept (default 200); the oldest go first. Call failures are kept apart, up to as many again, so that
   * they never push out the registry's events (joins, leaves, health changes).
   */
  capacity?: number;
  /** How long events with the same key keep merging into one entry (default 60 s). */
  coalesceMs?: number;
  clock?: { now(): number };
}

type KeyedEntry = ActivityEntry & { key?: string };

/**
 * A bounded log of the recent events an operator cares about (agents joining, leaving, expiring, changing health
 * or draining; failing calls; certificates), newest last. Call failures, which agents report themselves and in
 * bulk, are bounded separately and per caller (see {@link MAX_FAILURE_ENTRIES_PER_CALLER}), so that they cannot
 * evict the other events. Pure: no timers, no I/O; the clock is injected.
 */
export class ActivityLog {
  /** Every event but call failures, oldest first. */
  private readonly events: KeyedEntry[] = [];
  /** Call failures, oldest first. */
  private readonly failures: KeyedEntry[] = [];
  private readonly capacity: number;
  private readonly coalesceMs: number;
  private readonly clock: { now(): number };
  private readonly listeners = new Set<(entry: ActivityEntry) => void>();
  private seq = 0;

  constructor(options: ActivityLogOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 200);
    this.coalesceMs = options.coalesceMs ?? 60_000;
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  /** The latest sequence number handed out (0 before the first entry). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Adds an event (or merges it into a recent one with the same key) and returns its entry. A call failure of a
   * caller that already has {@link MAX_FAILURE_ENTRIES_PER_CALLER} recent entries merges into that caller's
   * "more failing calls" entry instead.
   */
  add(event: ActivityInput): ActivityEntry {
    const now = this.clock.now();
    const entries = event.kind === 'call-failures' ? this.failures : this.events;
    const recent = (entry: KeyedEntry) => now - entry.at <= this.coalesceMs;
    const input = event.kind === 'call-failures' ? this.capFailures(event, recent) : event;
    let firstAt = now;
    let count = 1;
    if (input.key !== undefined) {
      const index = entries.findIndex((entry) => entry.key === input.key && recent(entry));
      if (index >= 0) {
        const [previous] = entries.splice(index, 1);
        firstAt = previous!.firstAt;
        count = previous!.count + 1;
      }
    }
    this.seq += 1;
    const entry = {
      seq: this.seq,
      at: now,
      firstAt,
      count,
      kind: input.kind,
      severity: input.severity,
      message: input.message,
      ...(input.agentId !== undefined ? { agentId: input.agentId } : {}),
      ...(input.agentType !== undefined ? { agentType: input.agentType } : {}),
      ...(input.peerId !== undefined ? { peerId: input.peerId } : {}),
      ...(input.key !== undefined ? { key: input.key } : {}),
    };
    entries.push(entry);
    if (entries.length > this.capacity) entries.splice(0, entries.length - this.capacity);
    const published = publicEntry(entry);
    for (const listener of this.listeners) listener(published);
    return published;
  }

  /** The latest `limit` entries (all by default), newest first. */
  recent(limit = Infinity): ActivityEntry[] {
    const result: ActivityEntry[] = [];
    let event = this.events.length - 1;
    let failure = this.failures.length - 1;
    // Both lists are in sequence order: merge them from their newest ends.
    while (result.length < limit && (event >= 0 || failure >= 0)) {
      const takeEvent = failure < 0 || (event >= 0 && this.events[event]!.seq > this.failures[failure]!.seq);
      result.push(publicEntry(takeEvent ? this.events[event--]! : this.failures[failure--]!));
    }
    return result;
  }

  /**
   * The call failure as it goes into the log: as it came, or, when its caller already has its share of recent
   * entries and this one would be a new entry, rewritten to merge into the caller's overflow entry.
   */
  private capFailures(input: ActivityInput, recent: (entry: KeyedEntry) => boolean): ActivityInput {
    if (input.agentId === undefined) return input;
    const overflowKey = `calls-overflow\n${input.agentId}`;
    let shown = 0;
    for (const entry of this.failures) {
      if (!recent(entry) || entry.agentId !== input.agentId || entry.key === overflowKey) continue;
      if (input.key !== undefined && entry.key === input.key) return input; // merges into its own entry
      shown += 1;
    }
    if (shown < MAX_FAILURE_ENTRIES_PER_CALLER) return input;
    return {
      ...input,
      message: `${input.agentId}: more failing calls than shown separately; the latest: ${input.message}`,
      key: overflowKey,
    };
  }

  /** Calls `listener` with every entry added from now on; returns a function that stops it. */
  subscribe(listener: (entry: ActivityEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function publicEntry(entry: KeyedEntry): ActivityEntry {
  const { key: _key, ...rest } = entry;
  return rest;
}

function seconds(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000} s` : `${(ms / 1_000).toFixed(1)} s`;
}

/**
 * The activity a registry change stands for, or undefined for changes an operator does not need to see (load
 * reports). Every replica sees every change (they come through the store), so this part of the log is complete on
 * each replica.
 */
export function activityFromChange(change: StateChange): ActivityInput | undefined {
  if (change.kind === 'policies') {
    const { rules, defaultEffect } = change.policies;
    return {
      kind: 'policies',
      severity: 'info',
      message: `policies replaced: ${rules.length} rule${rules.length === 1 ? '' : 's'}, default ${defaultEffect}`,
    };
  }
  if (change.kind === 'load') return undefined;
  const { record } = change;
  const who = { agentId: record.id, agentType: record.spec.type };
  const name = `${record.id} (${record.spec.type})`;
  if (change.type === 'delete') {
    if (change.reason === 'lease expired') {
      return {
        kind: 'expired',
        severity: 'warning',
        message: `${name} expired: no heartbeat within its ${seconds(record.leaseTtlMs)} lease`,
        ...who,
      };
    }
    return { kind: 'left', severity: 'info', message: `${name} left: ${change.reason}`, ...who };
  }
  switch (change.reason) {
    case 'registered':
      return {
        kind: 'joined',
        severity: 'info',
        message: `${name} joined at ${record.spec.endpoint}`,
        ...who,
      };
    case 're-registered':
      return {
        kind: 'joined',
        severity: 'info',
        message: `${name} registered again at ${record.spec.endpoint}`,
        ...who,
      };
    case 'draining':
      return { kind: 'draining', severity: 'warning', message: `${name} is draining`, ...who };
    case 'health checks failing':
      return {
        kind: 'health',
        severity: 'error',
        message: `${name} is unhealthy: health checks failing`,
        ...who,
      };
    case 'health checks passing':
      return { kind: 'health', severity: 'info', message: `${name} is healthy again`, ...who };
    default:
      return undefined; // load reports
  }
}

/**
 * The activity of a call report with failures (undefined when none failed), keyed by edge, method and error so
 * that repeated reports of the same failure merge.
 */
export function activityFromCallReport(
  caller: { id: string; type: string },
  report: CallReport,
): ActivityInput | undefined {
  if (report.errors === 0) return undefined;
  const error = report.lastError || 'no error message reported';
  return {
    kind: 'call-failures',
    severity: 'error',
    message: `${caller.id} → ${report.calleeId} ${report.method}: ${report.errors} of ${report.calls} call${report.calls === 1 ? '' : 's'} failed (${error})`,
    agentId: caller.id,
    agentType: caller.type,
    peerId: report.calleeId,
    key: `calls\n${caller.id}\n${report.calleeId}\n${report.method}\n${error}`,
  };
}
