// Original file: proto/agentmesh/v1/control_plane.proto

import type { Event as _agentmesh_v1_Event, Event__Output as _agentmesh_v1_Event__Output } from '../../agentmesh/v1/Event.js';
import type { Long } from '@grpc/proto-loader';

/**
 * An event as the stream keeps it, with its sequence there.
 */
export interface StoredEvent {
  'sequence'?: (number | string | Long);
  'event'?: (_agentmesh_v1_Event | null);
}

/**
 * An event as the stream keeps it, with its sequence there.
 */
export interface StoredEvent__Output {
  'sequence': (number);
  'event': (_agentmesh_v1_Event__Output | null);
}
