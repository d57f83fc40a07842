// Original file: proto/agentmesh/v1/control_plane.proto

export const EventStoreMode = {
  /**
   * Brokerless: events go from publisher to subscriber directly (Agent.DeliverEvents).
   */
  EVENT_STORE_MODE_BROKERLESS: 'EVENT_STORE_MODE_BROKERLESS',
  /**
   * NATS JetStream: events are stored in a replicated stream; subscriptions read durable consumers.
   */
  EVENT_STORE_MODE_JETSTREAM: 'EVENT_STORE_MODE_JETSTREAM',
} as const;

export type EventStoreMode =
  /**
   * Brokerless: events go from publisher to subscriber directly (Agent.DeliverEvents).
   */
  | 'EVENT_STORE_MODE_BROKERLESS'
  | 0
  /**
   * NATS JetStream: events are stored in a replicated stream; subscriptions read durable consumers.
   */
  | 'EVENT_STORE_MODE_JETSTREAM'
  | 1

export type EventStoreMode__Output = typeof EventStoreMode[keyof typeof EventStoreMode]
