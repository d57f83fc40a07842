// Original file: proto/agentmesh/v1/types.proto


/**
 * Load an agent reports with its heartbeats, for load-aware balancing.
 */
export interface LoadReport {
  /**
   * Calls the agent is running right now.
   */
  'inFlight'?: (number);
  /**
   * Calls waiting in the agent's admission queue.
   */
  'queueDepth'?: (number);
}

/**
 * Load an agent reports with its heartbeats, for load-aware balancing.
 */
export interface LoadReport__Output {
  /**
   * Calls the agent is running right now.
   */
  'inFlight': (number);
  /**
   * Calls waiting in the agent's admission queue.
   */
  'queueDepth': (number);
}
