// Original file: proto/agentmesh/v1/types.proto

import type { AckOutcome as _agentmesh_v1_AckOutcome, AckOutcome__Output as _agentmesh_v1_AckOutcome__Output } from '../../agentmesh/v1/AckOutcome.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A subscriber's answer for one delivery.
 */
export interface Ack {
  /**
   * The `delivery_id` being answered.
   */
  'deliveryId'?: (string);
  /**
   * What happened.
   */
  'outcome'?: (_agentmesh_v1_AckOutcome);
  /**
   * For RETRY: how long to wait before redelivering; 0 uses the subscription's backoff.
   */
  'retryAfterMs'?: (number | string | Long);
  /**
   * For RETRY and DROP: why, recorded with a dead-lettered event. For REFUSED: why the delivery was not accepted
   * (input it quotes is cut to 128 characters). Cut to 500 characters.
   */
  'reason'?: (string);
}

/**
 * A subscriber's answer for one delivery.
 */
export interface Ack__Output {
  /**
   * The `delivery_id` being answered.
   */
  'deliveryId': (string);
  /**
   * What happened.
   */
  'outcome': (_agentmesh_v1_AckOutcome__Output);
  /**
   * For RETRY: how long to wait before redelivering; 0 uses the subscription's backoff.
   */
  'retryAfterMs': (number);
  /**
   * For RETRY and DROP: why, recorded with a dead-lettered event. For REFUSED: why the delivery was not accepted
   * (input it quotes is cut to 128 characters). Cut to 500 characters.
   */
  'reason': (string);
}
