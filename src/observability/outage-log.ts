import { codeName, type MeshError } from '../errors.js';
import type { Logger } from './logger.js';

/** Options for {@link OutageLog}. */
export interface OutageLogOptions {
  logger: Logger;
  /** What goes away and comes back, as the lines name it: `control plane`, `etcd`. */
  subject: string;
  /** What this process does meanwhile, said with the first failure. */
  meanwhile: string;
  /** The first summary comes this long after the first failure, and the gap doubles (default 10 s, at most 60 s). */
  summaryEveryMs?: number;
  clock?: { now(): number };
}

const MAX_SUMMARY_GAP_MS = 60_000;

/**
 * What a process logs about losing and finding a dependency (its control plane, the store). Every attempt of every
 * loop that talks to it (watch, heartbeats, renewals; keepalives, elections) reports here, and the log says it
 * once: the first failure, then a summary at growing intervals ("still unreachable after 30 s, 41 failed
 * attempts"), then one line when it answers again. An outage of any length costs a handful of lines, never one per
 * attempt per stream.
 */
export class OutageLog {
  private readonly clock: { now(): number };
  private readonly firstGapMs: number;
  private down: { since: number; attempts: number; nextSummaryAt: number; gapMs: number } | undefined;
  private using: string | undefined;

  constructor(private readonly options: OutageLogOptions) {
    this.clock = options.clock ?? { now: () => Date.now() };
    this.firstGapMs = options.summaryEveryMs ?? 10_000;
  }

  /** Whether the last attempt failed. */
  get unreachable(): boolean {
    return this.down !== undefined;
  }

  /** An attempt at `address` failed because it could not be reached (or did not answer in time). */
  failed(address: string, error: MeshError): void {
    const now = this.clock.now();
    const reason = `${codeName(error.code)}: ${error.message.slice(0, 300)}`;
    const { subject } = this.options;
    if (!this.down) {
      this.down = { since: now, attempts: 1, nextSummaryAt: now + this.firstGapMs, gapMs: this.firstGapMs };
      this.options.logger.warn({ at: address, reason }, `${subject} unreachable; ${this.options.meanwhile}`);
      return;
    }
    this.down.attempts += 1;
    if (now < this.down.nextSummaryAt) return;
    this.options.logger.warn(
      { at: address, attempts: this.down.attempts, reason },
      `${subject} still unreachable after ${seconds(now - this.down.since)} (${this.down.attempts} failed attempts); still retrying`,
    );
    this.down.gapMs = Math.min(MAX_SUMMARY_GAP_MS, this.down.gapMs * 2);
    this.down.nextSummaryAt = now + this.down.gapMs;
  }

  /** An attempt at `address` got an answer (any answer: a refusal still means it is there). */
  succeeded(address: string): void {
    const previous = this.using;
    this.using = address;
    const { subject } = this.options;
    if (this.down) {
      const { since, attempts } = this.down;
      this.down = undefined;
      this.options.logger.info(
        { at: address, attempts },
        `${subject} reachable again after ${seconds(this.clock.now() - since)} (${attempts} failed attempts)`,
      );
    } else if (previous !== undefined && previous !== address) {
      this.options.logger.info({ at: address, previous }, `now using another ${subject} replica`);
    }
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
