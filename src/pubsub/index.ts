/**
 * `agent-mesh/pubsub`: events between agents. Events and their validation, the outcomes a handler answers with
 * (retry later, drop to the dead letters), the publisher (at-least-once delivery, acknowledgements, dead-letter
 * replay) and the set of subscriptions an agent serves. An agent publishes and subscribes through `startAgent`;
 * these are the parts underneath. Topic patterns and subscriptions themselves are domain types, in `agent-mesh/core`.
 */

export {
  DEAD_LETTER_PREFIX,
  DEFAULT_MAX_PAYLOAD_BYTES,
  deadLetterTopic,
  dropEvent,
  retryLater,
  validateEvent,
  validateEventTopic,
} from './event.js';
export type {
  DeadLetterInfo,
  EventHandler,
  EventOutcome,
  MeshEvent,
  PublishReport,
  ReceivedEvent,
} from './event.js';
export { DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_BYTES, EventPublisher } from './publisher.js';
export { DEFAULT_ABSENT_RETENTION_MS } from './absent-subscribers.js';
export type { PublishOptions, PublisherOptions, PublisherStats } from './publisher.js';
export { SubscriptionSet } from './subscriber.js';
export type { SubscriptionSetOptions } from './subscriber.js';
export { CheckedEvents } from './event-cache.js';
export type { CheckedEvent, CheckedEventsOptions } from './event-cache.js';
export type { AckAnswer, WireDelivery } from '../transport/delivery-codec.js';
