/** Calls from one agent to one callee instance and method during one heartbeat interval (wire `CallReport`). */
export interface CallReport {
  calleeId: string;
  calleeType: string;
  method: string;
  /** Calls that finished in the interval. */
  calls: number;
  /** How many of them failed (any status but OK). */
  errors: number;
  latencyMsSum: number;
  latencyMsMax: number;
  /** Status name and message of the latest failure, e.g. `UNAVAILABLE: connection refused`; empty when none. */
  lastError: string;
  /**
   * Calls per latency bin (see latency-bins.ts: 17 counts summing to `calls`); absent or empty from agents that do
   * not count them.
   */
  latencyBuckets?: number[];
}
