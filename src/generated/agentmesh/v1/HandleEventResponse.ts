// Original file: proto/agentmesh/v1/events.proto

import type { AckOutcome as _agentmesh_v1_AckOutcome, AckOutcome__Output as _agentmesh_v1_AckOutcome__Output } from '../../agentmesh/v1/AckOutcome.js';
import type { Long } from '@grpc/proto-loader';

export interface HandleEventResponse {
  /**
   * How the app finished with the event: ACK_OUTCOME_ACK (or UNSPECIFIED), ACK_OUTCOME_RETRY or ACK_OUTCOME_DROP.
   * ACK_OUTCOME_REFUSED is treated as DROP.
   */
  'outcome'?: (_agentmesh_v1_AckOutcome);
  /**
   * For RETRY: how long to wait before the redelivery, in ms (0: the publisher's backoff).
   */
  'retryAfterMs'?: (number | string | Long);
  /**
   * For RETRY and DROP: why, kept with a dead letter and logged.
   */
  'reason'?: (string);
}

export interface HandleEventResponse__Output {
  /**
   * How the app finished with the event: ACK_OUTCOME_ACK (or UNSPECIFIED), ACK_OUTCOME_RETRY or ACK_OUTCOME_DROP.
   * ACK_OUTCOME_REFUSED is treated as DROP.
   */
  'outcome': (_agentmesh_v1_AckOutcome__Output);
  /**
   * For RETRY: how long to wait before the redelivery, in ms (0: the publisher's backoff).
   */
  'retryAfterMs': (number);
  /**
   * For RETRY and DROP: why, kept with a dead letter and logged.
   */
  'reason': (string);
}
