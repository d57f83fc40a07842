// Original file: proto/agentmesh/v1/types.proto

import type { CallContext as _agentmesh_v1_CallContext, CallContext__Output as _agentmesh_v1_CallContext__Output } from '../../agentmesh/v1/CallContext.js';
import type { DeadLetter as _agentmesh_v1_DeadLetter, DeadLetter__Output as _agentmesh_v1_DeadLetter__Output } from '../../agentmesh/v1/DeadLetter.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One published event.
 */
export interface Event {
  /**
   * Unique event id assigned at publish (or supplied by the publisher), for idempotent handlers.
   */
  'id'?: (string);
  /**
   * The dot-separated topic it was published to, e.g. "tasks.created".
   */
  'topic'?: (string);
  /**
   * The publisher's SPIFFE ID; a subscribing agent accepts an event only from the publisher itself (the verified
   * peer of the delivery stream).
   */
  'publisher'?: (string);
  /**
   * When the publisher accepted the event.
   */
  'publishedAtUnixMs'?: (number | string | Long);
  /**
   * The event body.
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * The payload's media type, e.g. "application/json".
   */
  'contentType'?: (string);
  /**
   * Ordering key: events with the same key reach each subscriber in publish order. Empty means unordered.
   */
  'key'?: (string);
  /**
   * Propagated context (trace, conversation) of the publishing call.
   */
  'context'?: (_agentmesh_v1_CallContext | null);
  /**
   * Set on events of a dead-letter topic ("dead-letter.<topic>"): why and where the original failed.
   */
  'deadLetter'?: (_agentmesh_v1_DeadLetter | null);
}

/**
 * One published event.
 */
export interface Event__Output {
  /**
   * Unique event id assigned at publish (or supplied by the publisher), for idempotent handlers.
   */
  'id': (string);
  /**
   * The dot-separated topic it was published to, e.g. "tasks.created".
   */
  'topic': (string);
  /**
   * The publisher's SPIFFE ID; a subscribing agent accepts an event only from the publisher itself (the verified
   * peer of the delivery stream).
   */
  'publisher': (string);
  /**
   * When the publisher accepted the event.
   */
  'publishedAtUnixMs': (number);
  /**
   * The event body.
   */
  'payload': (Buffer);
  /**
   * The payload's media type, e.g. "application/json".
   */
  'contentType': (string);
  /**
   * Ordering key: events with the same key reach each subscriber in publish order. Empty means unordered.
   */
  'key': (string);
  /**
   * Propagated context (trace, conversation) of the publishing call.
   */
  'context': (_agentmesh_v1_CallContext__Output | null);
  /**
   * Set on events of a dead-letter topic ("dead-letter.<topic>"): why and where the original failed.
   */
  'deadLetter': (_agentmesh_v1_DeadLetter__Output | null);
}
