// Original file: proto/agentmesh/v1/control_plane.proto

import type { Long } from '@grpc/proto-loader';

export interface ConsumerStats {
  'consumer'?: (string);
  /**
   * The subscription: its filter as a topic pattern, and the group (empty: one subscriber's own).
   */
  'pattern'?: (string);
  'group'?: (string);
  /**
   * The registered agents whose subscription it serves, by SPIFFE ID.
   */
  'subscribers'?: (string)[];
  /**
   * Events not yet delivered (the lag), delivered and awaiting an ack, redelivered at least once.
   */
  'pending'?: (number | string | Long);
  'ackPending'?: (number | string | Long);
  'redelivered'?: (number | string | Long);
  /**
   * The last stream sequence delivered, and below which every event is acknowledged.
   */
  'deliveredSequence'?: (number | string | Long);
  'ackFloorSequence'?: (number | string | Long);
}

export interface ConsumerStats__Output {
  'consumer': (string);
  /**
   * The subscription: its filter as a topic pattern, and the group (empty: one subscriber's own).
   */
  'pattern': (string);
  'group': (string);
  /**
   * The registered agents whose subscription it serves, by SPIFFE ID.
   */
  'subscribers': (string)[];
  /**
   * Events not yet delivered (the lag), delivered and awaiting an ack, redelivered at least once.
   */
  'pending': (number);
  'ackPending': (number);
  'redelivered': (number);
  /**
   * The last stream sequence delivered, and below which every event is acknowledged.
   */
  'deliveredSequence': (number);
  'ackFloorSequence': (number);
}
