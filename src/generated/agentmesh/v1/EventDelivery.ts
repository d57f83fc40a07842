// Original file: proto/agentmesh/v1/types.proto

import type { Event as _agentmesh_v1_Event, Event__Output as _agentmesh_v1_Event__Output } from '../../agentmesh/v1/Event.js';

/**
 * One attempt to deliver an event to a subscriber.
 */
export interface EventDelivery {
  /**
   * Identifies this delivery attempt; the subscriber acknowledges by this id.
   */
  'deliveryId'?: (string);
  /**
   * 1 for the first attempt, counting up on each redelivery.
   */
  'attempt'?: (number);
  /**
   * The event itself.
   */
  'event'?: (_agentmesh_v1_Event | null);
  /**
   * The subscription pattern the event matched, e.g. "tasks.*".
   */
  'pattern'?: (string);
  /**
   * The queue group the delivery was made for; empty for a subscriber without a group.
   */
  'group'?: (string);
}

/**
 * One attempt to deliver an event to a subscriber.
 */
export interface EventDelivery__Output {
  /**
   * Identifies this delivery attempt; the subscriber acknowledges by this id.
   */
  'deliveryId': (string);
  /**
   * 1 for the first attempt, counting up on each redelivery.
   */
  'attempt': (number);
  /**
   * The event itself.
   */
  'event': (_agentmesh_v1_Event__Output | null);
  /**
   * The subscription pattern the event matched, e.g. "tasks.*".
   */
  'pattern': (string);
  /**
   * The queue group the delivery was made for; empty for a subscriber without a group.
   */
  'group': (string);
}
