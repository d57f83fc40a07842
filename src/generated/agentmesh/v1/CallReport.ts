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
}
