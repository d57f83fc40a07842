// Original file: proto/agentmesh/v1/types.proto


/**
 * One event subscription of an agent.
 */
export interface Subscription {
  /**
   * Topic pattern: dot-separated segments, where `*` matches exactly one segment and a final `>` matches one or
   * more remaining segments, e.g. "tasks.*" or "tasks.>".
   */
  'pattern'?: (string);
  /**
   * Queue group: subscriptions sharing a group name split the events, one delivery per group for each event.
   * Empty: this subscription gets every matching event. Same syntax as an agent type.
   */
  'group'?: (string);
  /**
   * The most deliveries outstanding (sent, not yet acknowledged) to this subscription at once; 0 means 64.
   */
  'maxInFlight'?: (number);
}

/**
 * One event subscription of an agent.
 */
export interface Subscription__Output {
  /**
   * Topic pattern: dot-separated segments, where `*` matches exactly one segment and a final `>` matches one or
   * more remaining segments, e.g. "tasks.*" or "tasks.>".
   */
  'pattern': (string);
  /**
   * Queue group: subscriptions sharing a group name split the events, one delivery per group for each event.
   * Empty: this subscription gets every matching event. Same syntax as an agent type.
   */
  'group': (string);
  /**
   * The most deliveries outstanding (sent, not yet acknowledged) to this subscription at once; 0 means 64.
   */
  'maxInFlight': (number);
}
