// Original file: proto/agentmesh/v1/control_plane.proto


export interface EventConsumer {
  /**
   * The subscription it serves.
   */
  'pattern'?: (string);
  'group'?: (string);
  /**
   * The consumer's name in the stream.
   */
  'consumer'?: (string);
}

export interface EventConsumer__Output {
  /**
   * The subscription it serves.
   */
  'pattern': (string);
  'group': (string);
  /**
   * The consumer's name in the stream.
   */
  'consumer': (string);
}
