// Original file: proto/agentmesh/v1/types.proto

import type { EventDelivery as _agentmesh_v1_EventDelivery, EventDelivery__Output as _agentmesh_v1_EventDelivery__Output } from '../../agentmesh/v1/EventDelivery.js';

/**
 * Deliveries sent together, to amortize per-message costs.
 */
export interface EventDeliveryBatch {
  'deliveries'?: (_agentmesh_v1_EventDelivery)[];
}

/**
 * Deliveries sent together, to amortize per-message costs.
 */
export interface EventDeliveryBatch__Output {
  'deliveries': (_agentmesh_v1_EventDelivery__Output)[];
}
