// Original file: proto/agentmesh/v1/types.proto

/**
 * How a subscriber's handler finished with one delivery.
 */
export const AckOutcome = {
  /**
   * Never sent; treated as RETRY.
   */
  ACK_OUTCOME_UNSPECIFIED: 'ACK_OUTCOME_UNSPECIFIED',
  /**
   * Handled: the event is done for this subscriber.
   */
  ACK_OUTCOME_ACK: 'ACK_OUTCOME_ACK',
  /**
   * Not handled now: redeliver after `retry_after_ms` (or the backoff, when 0).
   */
  ACK_OUTCOME_RETRY: 'ACK_OUTCOME_RETRY',
  /**
   * Will never be handled: move the event to the dead-letter topic now, with the reason.
   */
  ACK_OUTCOME_DROP: 'ACK_OUTCOME_DROP',
  /**
   * Not accepted by the subscribing agent: the sender may not publish to the topic, the agent has no such
   * subscription, or the event is invalid (see Agent.DeliverEvents); `reason` says which. Neither retried nor
   * dead-lettered.
   */
  ACK_OUTCOME_REFUSED: 'ACK_OUTCOME_REFUSED',
} as const;

/**
 * How a subscriber's handler finished with one delivery.
 */
export type AckOutcome =
  /**
   * Never sent; treated as RETRY.
   */
  | 'ACK_OUTCOME_UNSPECIFIED'
  | 0
  /**
   * Handled: the event is done for this subscriber.
   */
  | 'ACK_OUTCOME_ACK'
  | 1
  /**
   * Not handled now: redeliver after `retry_after_ms` (or the backoff, when 0).
   */
  | 'ACK_OUTCOME_RETRY'
  | 2
  /**
   * Will never be handled: move the event to the dead-letter topic now, with the reason.
   */
  | 'ACK_OUTCOME_DROP'
  | 3
  /**
   * Not accepted by the subscribing agent: the sender may not publish to the topic, the agent has no such
   * subscription, or the event is invalid (see Agent.DeliverEvents); `reason` says which. Neither retried nor
   * dead-lettered.
   */
  | 'ACK_OUTCOME_REFUSED'
  | 4

/**
 * How a subscriber's handler finished with one delivery.
 */
export type AckOutcome__Output = typeof AckOutcome[keyof typeof AckOutcome]
