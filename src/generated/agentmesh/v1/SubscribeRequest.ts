// Original file: proto/agentmesh/v1/control_plane.proto

import type { SubscriptionSpec as _agentmesh_v1_SubscriptionSpec, SubscriptionSpec__Output as _agentmesh_v1_SubscriptionSpec__Output } from '../../agentmesh/v1/SubscriptionSpec.js';
import type { AckBatch as _agentmesh_v1_AckBatch, AckBatch__Output as _agentmesh_v1_AckBatch__Output } from '../../agentmesh/v1/AckBatch.js';

export interface SubscribeRequest {
  /**
   * The first message: what to subscribe to.
   */
  'open'?: (_agentmesh_v1_SubscriptionSpec | null);
  /**
   * Every later message: outcomes of deliveries.
   */
  'acks'?: (_agentmesh_v1_AckBatch | null);
  'kind'?: "open"|"acks";
}

export interface SubscribeRequest__Output {
  /**
   * The first message: what to subscribe to.
   */
  'open'?: (_agentmesh_v1_SubscriptionSpec__Output | null);
  /**
   * Every later message: outcomes of deliveries.
   */
  'acks'?: (_agentmesh_v1_AckBatch__Output | null);
  'kind'?: "open"|"acks";
}
