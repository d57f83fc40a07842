// Original file: proto/agentmesh/v1/control_plane.proto

import type { StoredEvent as _agentmesh_v1_StoredEvent, StoredEvent__Output as _agentmesh_v1_StoredEvent__Output } from '../../agentmesh/v1/StoredEvent.js';

export interface ListDeadLettersResponse {
  'deadLetters'?: (_agentmesh_v1_StoredEvent)[];
}

export interface ListDeadLettersResponse__Output {
  'deadLetters': (_agentmesh_v1_StoredEvent__Output)[];
}
