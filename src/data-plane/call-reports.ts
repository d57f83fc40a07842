import type { CallReport } from '../core/call-report.js';
import { LATENCY_BINS, binOf } from '../core/latency-bins.js';

/** Most callee-and-method entries a report holds (the control plane's limit per heartbeat). */
export const MAX_CALL_REPORTS = 256;
const MAX_ERROR_LENGTH = 300;

/** One callee-and-method entry of a report: the control plane's {@link CallReport}, the wire's `CallReport`. */
export type { CallReport };

/**
 * Sums an agent's outbound calls per callee instance and method between heartbeats: the control plane's view of
 * who calls whom (calls, failures, latency). {@link CallReports.take} hands over what was gathered and starts
 * afresh; entries beyond {@link MAX_CALL_REPORTS} in one interval are dropped (counted in `dropped`).
 */
export class CallReports {
  private entries = new Map<string, CallReport>();
  /** Calls left out of reports because an interval had too many distinct callees and methods. */
  dropped = 0;

  record(calleeId: string, calleeType: string, method: string, ms: number, error?: string): void {
    const key = `${calleeId}\0${method}`;
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= MAX_CALL_REPORTS) {
        this.dropped += 1;
        return;
      }
      entry = {
        calleeId,
        calleeType,
        method,
        calls: 0,
        errors: 0,
        latencyMsSum: 0,
        latencyMsMax: 0,
        lastError: '',
        latencyBuckets: new Array<number>(LATENCY_BINS).fill(0),
      };
      this.entries.set(key, entry);
    }
    entry.calls += 1;
    entry.latencyMsSum += ms;
    entry.latencyBuckets![binOf(ms)]! += 1;
    if (ms > entry.latencyMsMax) entry.latencyMsMax = ms;
    if (error !== undefined) {
      entry.errors += 1;
      entry.lastError = error.slice(0, MAX_ERROR_LENGTH);
    }
  }

  /** What was gathered since the previous call, and a fresh start. */
  take(): CallReport[] {
    if (this.entries.size === 0) return [];
    const reports = [...this.entries.values()];
    this.entries = new Map();
    return reports;
  }

  /** Puts reports back that could not be sent (a failed heartbeat), as far as there is room. */
  restore(reports: readonly CallReport[]): void {
    for (const report of reports) {
      const key = `${report.calleeId}\0${report.method}`;
      const entry = this.entries.get(key);
      if (!entry) {
        if (this.entries.size < MAX_CALL_REPORTS) {
          this.entries.set(key, {
            ...report,
            latencyBuckets: report.latencyBuckets
              ? [...report.latencyBuckets]
              : new Array<number>(LATENCY_BINS).fill(0),
          });
        }
        continue;
      }
      entry.calls += report.calls;
      entry.errors += report.errors;
      entry.latencyMsSum += report.latencyMsSum;
      entry.latencyMsMax = Math.max(entry.latencyMsMax, report.latencyMsMax);
      if (!entry.lastError) entry.lastError = report.lastError;
      report.latencyBuckets?.forEach((count, bin) => (entry.latencyBuckets![bin]! += count));
    }
  }
}
