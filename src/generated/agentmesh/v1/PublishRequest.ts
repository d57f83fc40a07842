// Original file: proto/agentmesh/v1/control_plane.proto

import type { CallContext as _agentmesh_v1_CallContext, CallContext__Output as _agentmesh_v1_CallContext__Output } from '../../agentmesh/v1/CallContext.js';

export interface PublishRequest {
  /**
   * Dot-separated topic, e.g. "tasks.created": segments of letters, digits, '-' and '_'; no wildcards.
   */
  'topic'?: (string);
  /**
   * The event body.
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * The payload's media type, e.g. "application/json".
   */
  'contentType'?: (string);
  /**
   * Ordering key: events with the same key reach each subscriber in publish order.
   */
  'key'?: (string);
  /**
   * Propagated context of the publishing call.
   */
  'context'?: (_agentmesh_v1_CallContext | null);
  /**
   * An id chosen by the publisher to make publishing idempotent; empty lets the control plane assign one.
   */
  'eventId'?: (string);
}

export interface PublishRequest__Output {
  /**
   * Dot-separated topic, e.g. "tasks.created": segments of letters, digits, '-' and '_'; no wildcards.
   */
  'topic': (string);
  /**
   * The event body.
   */
  'payload': (Buffer);
  /**
   * The payload's media type, e.g. "application/json".
   */
  'contentType': (string);
  /**
   * Ordering key: events with the same key reach each subscriber in publish order.
   */
  'key': (string);
  /**
   * Propagated context of the publishing call.
   */
  'context': (_agentmesh_v1_CallContext__Output | null);
  /**
   * An id chosen by the publisher to make publishing idempotent; empty lets the control plane assign one.
   */
  'eventId': (string);
}
