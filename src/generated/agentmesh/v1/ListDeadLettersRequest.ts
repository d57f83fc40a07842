// Original file: proto/agentmesh/v1/control_plane.proto


export interface ListDeadLettersRequest {
  /**
   * Only the dead letters of this topic (the original topic, e.g. tasks.created); empty for all.
   */
  'topic'?: (string);
  /**
   * At most this many, the newest (0: 100; at most 1000).
   */
  'limit'?: (number);
}

export interface ListDeadLettersRequest__Output {
  /**
   * Only the dead letters of this topic (the original topic, e.g. tasks.created); empty for all.
   */
  'topic': (string);
  /**
   * At most this many, the newest (0: 100; at most 1000).
   */
  'limit': (number);
}
