// Original file: proto/agentmesh/v1/types.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Why an event was dead-lettered. The dead-letter event carries the original's payload, content type and key.
 */
export interface DeadLetter {
  /**
   * The original event's id and topic.
   */
  'originalEventId'?: (string);
  'originalTopic'?: (string);
  /**
   * The last failure: the handler's reason, or what the publisher saw (e.g. no acknowledgement in time).
   */
  'reason'?: (string);
  /**
   * Delivery attempts made.
   */
  'attempts'?: (number);
  /**
   * The subscription that could not handle it: the subscriber's SPIFFE ID, its pattern and group.
   */
  'subscriber'?: (string);
  'pattern'?: (string);
  'group'?: (string);
  /**
   * When the event was dead-lettered.
   */
  'deadLetteredAtUnixMs'?: (number | string | Long);
}

/**
 * Why an event was dead-lettered. The dead-letter event carries the original's payload, content type and key.
 */
export interface DeadLetter__Output {
  /**
   * The original event's id and topic.
   */
  'originalEventId': (string);
  'originalTopic': (string);
  /**
   * The last failure: the handler's reason, or what the publisher saw (e.g. no acknowledgement in time).
   */
  'reason': (string);
  /**
   * Delivery attempts made.
   */
  'attempts': (number);
  /**
   * The subscription that could not handle it: the subscriber's SPIFFE ID, its pattern and group.
   */
  'subscriber': (string);
  'pattern': (string);
  'group': (string);
  /**
   * When the event was dead-lettered.
   */
  'deadLetteredAtUnixMs': (number);
}
