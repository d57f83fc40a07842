// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface ReplayDeadLetterResponse {
  /**
   * The replayed event's id (the original's) and its new sequence.
   */
  'eventId'?: (string);
  'sequence'?: (number | string | Long);
  'topic'?: (string);
}

export interface ReplayDeadLetterResponse__Output {
  /**
   * The replayed event's id (the original's) and its new sequence.
   */
  'eventId': (string);
  'sequence': (number);
  'topic': (string);
}
