// Original file: proto/agentmesh/v1/events.proto


export interface PublishResponse {
  /**
   * The event's id: `event_id` when given, else the one the sidecar chose.
   */
  'eventId'?: (string);
  /**
   * True when the event was taken for delivery to every route below.
   */
  'accepted'?: (boolean);
  /**
   * Subscriptions without a group it was routed to (each gets it).
   */
  'subscriptions'?: (number);
  /**
   * Queue groups it was routed to (one member of each gets it).
   */
  'groups'?: (number);
}

export interface PublishResponse__Output {
  /**
   * The event's id: `event_id` when given, else the one the sidecar chose.
   */
  'eventId': (string);
  /**
   * True when the event was taken for delivery to every route below.
   */
  'accepted': (boolean);
  /**
   * Subscriptions without a group it was routed to (each gets it).
   */
  'subscriptions': (number);
  /**
   * Queue groups it was routed to (one member of each gets it).
   */
  'groups': (number);
}
