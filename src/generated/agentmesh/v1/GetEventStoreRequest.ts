// Original file: proto/agentmesh/v1/control_plane.proto

import type { SubscriptionStart as _agentmesh_v1_SubscriptionStart, SubscriptionStart__Output as _agentmesh_v1_SubscriptionStart__Output } from '../../agentmesh/v1/SubscriptionStart.js';
import type { Subscription as _agentmesh_v1_Subscription, Subscription__Output as _agentmesh_v1_Subscription__Output } from '../../agentmesh/v1/Subscription.js';

export interface GetEventStoreRequest {
  /**
   * The public key of a NATS user nkey the caller generated ("U..."). Empty to learn only the mode.
   */
  'userPublicKey'?: (string);
  /**
   * Where the consumers of some of the caller's subscriptions begin, when they are created.
   */
  'starts'?: (_agentmesh_v1_SubscriptionStart)[];
  /**
   * The caller's subscriptions: each one its policies allow gets its consumer.
   */
  'subscriptions'?: (_agentmesh_v1_Subscription)[];
}

export interface GetEventStoreRequest__Output {
  /**
   * The public key of a NATS user nkey the caller generated ("U..."). Empty to learn only the mode.
   */
  'userPublicKey': (string);
  /**
   * Where the consumers of some of the caller's subscriptions begin, when they are created.
   */
  'starts': (_agentmesh_v1_SubscriptionStart__Output)[];
  /**
   * The caller's subscriptions: each one its policies allow gets its consumer.
   */
  'subscriptions': (_agentmesh_v1_Subscription__Output)[];
}
