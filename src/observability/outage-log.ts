import { codeName, type MeshError } from '../core/errors.js';
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
  /**
   * An outage is over once an attempt succeeds and none fails for this long after it (default 2 s): a dependency
   * that answers some requests and fails others (etcd without quorum serves what needs no leader) is still down,
   * and is not logged as lost and found again on every answer.
   */
  recoveryMs?: number;
  clock?: { now(): number };
}

const MAX_SUMMARY_GAP_MS = 60_000;

interface Outage {
  since: number;
  attempts: number;
  /** Where the last attempt failed. */
  failedAt: string;
  nextSummaryAt: number;
  gapMs: number;
  /** The first success since the last failure, while it waits to be confirmed. */
  recovering: { at: number; address: string; timer: NodeJS.Timeout } | undefined;
}

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
  private down: Outage | undefined;
  private using: string | undefined;

  constructor(private readonly options: OutageLogOptions) {
    this.clock = options.clock ?? { now: () => Date.now() };
    this.firstGapMs = options.summaryEveryMs ?? 10_000;
  }

  /** Whether it is down: an attempt failed, and no success has lasted since. */
  get unreachable(): boolean {
    return this.down !== undefined;
  }

  /** An attempt at `address` failed because it could not be reached (or did not answer in time). */
  failed(address: string, error: MeshError): void {
    const now = this.clock.now();
    const reason = `${codeName(error.code)}: ${error.message.slice(0, 300)}`;
    const { subject } = this.options;
    if (!this.down) {
      const gapMs = this.firstGapMs;
      this.down = {
        since: now,
        attempts: 1,
        failedAt: address,
        nextSummaryAt: now + gapMs,
        gapMs,
        recovering: undefined,
      };
      this.options.logger.warn({ at: address, reason }, `${subject} unreachable; ${this.options.meanwhile}`);
      return;
    }
    if (this.down.recovering) {
      clearTimeout(this.down.recovering.timer);
      this.down.recovering = undefined;
    }
    this.down.attempts += 1;
    this.down.failedAt = address;
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
    const outage = this.down;
    if (!outage) {
      if (previous !== undefined && previous !== address) {
        this.options.logger.info(
          { at: address, previous },
          `now using another ${this.options.subject} replica`,
        );
      }
      return;
    }
    if (address !== outage.failedAt) {
      // Another replica answered: the client has moved, and that is news at once.
      this.end(outage, this.clock.now(), address, `now using another ${this.options.subject} replica`);
      return;
    }
    if (outage.recovering) return;
    const timer = setTimeout(() => this.recovered(outage), this.options.recoveryMs ?? 2_000);
    timer.unref();
    outage.recovering = { at: this.clock.now(), address, timer };
  }

  /** Stops the timer of a recovery being confirmed (the process is closing). */
  close(): void {
    if (this.down?.recovering) clearTimeout(this.down.recovering.timer);
  }

  private recovered(outage: Outage): void {
    if (this.down !== outage || !outage.recovering) return;
    const { at, address } = outage.recovering;
    this.end(outage, at, address, `${this.options.subject} reachable again`);
  }

  private end(outage: Outage, at: number, address: string, what: string): void {
    if (outage.recovering) clearTimeout(outage.recovering.timer);
    this.down = undefined;
    this.options.logger.info(
      { at: address, attempts: outage.attempts },
      `${what} after ${seconds(at - outage.since)} (${outage.attempts} failed attempts)`,
    );
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
