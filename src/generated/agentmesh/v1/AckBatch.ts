// Original file: proto/agentmesh/v1/types.proto

import type { Ack as _agentmesh_v1_Ack, Ack__Output as _agentmesh_v1_Ack__Output } from '../../agentmesh/v1/Ack.js';

/**
 * Acknowledgements sent together.
 */
export interface AckBatch {
  'acks'?: (_agentmesh_v1_Ack)[];
}

/**
 * Acknowledgements sent together.
 */
export interface AckBatch__Output {
  'acks': (_agentmesh_v1_Ack__Output)[];
}
