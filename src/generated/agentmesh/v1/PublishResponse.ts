// Original file: proto/agentmesh/v1/control_plane.proto


export interface PublishResponse {
  /**
   * The event's id.
   */
  'eventId'?: (string);
  /**
   * True when the event was stored for delivery.
   */
  'accepted'?: (boolean);
  /**
   * How many subscriptions without a group the event was routed to.
   */
  'subscriptions'?: (number);
  /**
   * How many queue groups the event was routed to (one delivery per group).
   */
  'groups'?: (number);
}

export interface PublishResponse__Output {
  /**
   * The event's id.
   */
  'eventId': (string);
  /**
   * True when the event was stored for delivery.
   */
  'accepted': (boolean);
  /**
   * How many subscriptions without a group the event was routed to.
   */
  'subscriptions': (number);
  /**
   * How many queue groups the event was routed to (one delivery per group).
   */
  'groups': (number);
}
