// Original file: proto/agentmesh/v1/control_plane.proto

import type { EventStoreMode as _agentmesh_v1_EventStoreMode, EventStoreMode__Output as _agentmesh_v1_EventStoreMode__Output } from '../../agentmesh/v1/EventStoreMode.js';
import type { EventConsumer as _agentmesh_v1_EventConsumer, EventConsumer__Output as _agentmesh_v1_EventConsumer__Output } from '../../agentmesh/v1/EventConsumer.js';
import type { Long } from '@grpc/proto-loader';

export interface GetEventStoreResponse {
  'mode'?: (_agentmesh_v1_EventStoreMode);
  /**
   * The NATS servers, as URLs (tls://host:port). Connect with the caller's mesh certificate; trust only the
   * mesh's roots.
   */
  'servers'?: (string)[];
  /**
   * The SPIFFE ID the NATS servers' certificates carry: check it as for any mesh peer.
   */
  'serverIdentity'?: (string);
  /**
   * The caller's NATS user JWT, for the key it sent; it expires at `expires_at_unix_ms`: ask again before.
   */
  'userJwt'?: (string);
  'expiresAtUnixMs'?: (number | string | Long);
  /**
   * The inbox prefix the caller's connection must use: its credentials allow replies only there.
   */
  'inboxPrefix'?: (string);
  /**
   * The stream, and the subject prefix events are stored under: `<prefix>.<publisher token>.<topic>`.
   */
  'stream'?: (string);
  'subjectPrefix'?: (string);
  /**
   * The durable consumers of the caller's subscriptions.
   */
  'consumers'?: (_agentmesh_v1_EventConsumer)[];
  /**
   * How many times an event is delivered to a subscription before it is dead-lettered, and how long a delivery
   * may go unacknowledged before it is delivered again.
   */
  'maxDeliveries'?: (number);
  'ackWaitMs'?: (number | string | Long);
}

export interface GetEventStoreResponse__Output {
  'mode': (_agentmesh_v1_EventStoreMode__Output);
  /**
   * The NATS servers, as URLs (tls://host:port). Connect with the caller's mesh certificate; trust only the
   * mesh's roots.
   */
  'servers': (string)[];
  /**
   * The SPIFFE ID the NATS servers' certificates carry: check it as for any mesh peer.
   */
  'serverIdentity': (string);
  /**
   * The caller's NATS user JWT, for the key it sent; it expires at `expires_at_unix_ms`: ask again before.
   */
  'userJwt': (string);
  'expiresAtUnixMs': (number);
  /**
   * The inbox prefix the caller's connection must use: its credentials allow replies only there.
   */
  'inboxPrefix': (string);
  /**
   * The stream, and the subject prefix events are stored under: `<prefix>.<publisher token>.<topic>`.
   */
  'stream': (string);
  'subjectPrefix': (string);
  /**
   * The durable consumers of the caller's subscriptions.
   */
  'consumers': (_agentmesh_v1_EventConsumer__Output)[];
  /**
   * How many times an event is delivered to a subscription before it is dead-lettered, and how long a delivery
   * may go unacknowledged before it is delivered again.
   */
  'maxDeliveries': (number);
  'ackWaitMs': (number);
}
