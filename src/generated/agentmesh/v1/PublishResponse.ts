// Original file: proto/agentmesh/v1/events.proto

import type { Long } from '@grpc/proto-loader';

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
  /**
   * With the mesh's event store (NATS JetStream) only: the answer comes once the stream stored the event, and
   * this is its sequence there (0 brokerless). `duplicate` says the stream already had an event with this id (a
   * retried publish within its duplicate window): it is stored once.
   */
  'sequence'?: (number | string | Long);
  'duplicate'?: (boolean);
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
  /**
   * With the mesh's event store (NATS JetStream) only: the answer comes once the stream stored the event, and
   * this is its sequence there (0 brokerless). `duplicate` says the stream already had an event with this id (a
   * retried publish within its duplicate window): it is stored once.
   */
  'sequence': (number);
  'duplicate': (boolean);
}
