// Original file: proto/agentmesh/v1/control_plane.proto


/**
 * Calls from the reporting agent to one callee instance and method during one heartbeat interval.
 */
export interface CallReport {
  /**
   * The callee's agent id and type.
   */
  'calleeId'?: (string);
  'calleeType'?: (string);
  /**
   * The method, as named in policies ("summarize", or "<package.Service>/<Method>" for typed services).
   */
  'method'?: (string);
  /**
   * Calls that finished in the interval, and how many of them failed (any status but OK).
   */
  'calls'?: (number);
  'errors'?: (number);
  /**
   * Sum and maximum of their latencies, in milliseconds.
   */
  'latencyMsSum'?: (number | string);
  'latencyMsMax'?: (number | string);
  /**
   * The status code name and message of the latest failure, e.g. "UNAVAILABLE: connection refused".
   */
  'lastError'?: (string);
  /**
   * How many of the calls took up to 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000
   * and 120000 ms, and a last count for longer ones (17 counts summing to `calls`), for latency percentiles.
   * Empty from agents that do not count them: the control plane then estimates from the sum and maximum.
   */
  'latencyBuckets'?: (number)[];
}

/**
 * Calls from the reporting agent to one callee instance and method during one heartbeat interval.
 */
export interface CallReport__Output {
  /**
   * The callee's agent id and type.
   */
  'calleeId': (string);
  'calleeType': (string);
  /**
   * The method, as named in policies ("summarize", or "<package.Service>/<Method>" for typed services).
   */
  'method': (string);
  /**
   * Calls that finished in the interval, and how many of them failed (any status but OK).
   */
  'calls': (number);
  'errors': (number);
  /**
   * Sum and maximum of their latencies, in milliseconds.
   */
  'latencyMsSum': (number);
  'latencyMsMax': (number);
  /**
   * The status code name and message of the latest failure, e.g. "UNAVAILABLE: connection refused".
   */
  'lastError': (string);
  /**
   * How many of the calls took up to 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 60000
   * and 120000 ms, and a last count for longer ones (17 counts summing to `calls`), for latency percentiles.
   * Empty from agents that do not count them: the control plane then estimates from the sum and maximum.
   */
  'latencyBuckets': (number)[];
}
