// Original file: proto/agentmesh/v1/control_plane.proto


export interface SubscriptionSpec {
  /**
   * Topic pattern: dot-separated segments, where `*` matches exactly one segment and a final `>` matches one or
   * more remaining segments, e.g. "tasks.*" or "tasks.>".
   */
  'pattern'?: (string);
  /**
   * Queue group: subscribers sharing a group split the events, one delivery per group. Empty: every event.
   */
  'group'?: (string);
  /**
   * The most deliveries outstanding (sent, not yet acknowledged) at once; 0 uses the default.
   */
  'maxInFlight'?: (number);
}

export interface SubscriptionSpec__Output {
  /**
   * Topic pattern: dot-separated segments, where `*` matches exactly one segment and a final `>` matches one or
   * more remaining segments, e.g. "tasks.*" or "tasks.>".
   */
  'pattern': (string);
  /**
   * Queue group: subscribers sharing a group split the events, one delivery per group. Empty: every event.
   */
  'group': (string);
  /**
   * The most deliveries outstanding (sent, not yet acknowledged) at once; 0 uses the default.
   */
  'maxInFlight': (number);
}
