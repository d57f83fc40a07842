// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface ReplayDeadLetterRequest {
  /**
   * The stream sequence of the dead letter (from ListDeadLetters).
   */
  'sequence'?: (number | string | Long);
}

export interface ReplayDeadLetterRequest__Output {
  /**
   * The stream sequence of the dead letter (from ListDeadLetters).
   */
  'sequence': (number);
}
