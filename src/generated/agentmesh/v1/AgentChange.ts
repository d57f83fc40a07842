// Original file: proto/agentmesh/v1/control_plane.proto

import type { AgentRecord as _agentmesh_v1_AgentRecord, AgentRecord__Output as _agentmesh_v1_AgentRecord__Output } from '../../agentmesh/v1/AgentRecord.js';

// Original file: proto/agentmesh/v1/control_plane.proto

export const _agentmesh_v1_AgentChange_Type = {
  TYPE_UNSPECIFIED: 'TYPE_UNSPECIFIED',
  /**
   * The agent was added, or its record changed (health, load, spec).
   */
  TYPE_PUT: 'TYPE_PUT',
  /**
   * The agent left the registry; `agent` holds its last known record.
   */
  TYPE_DELETE: 'TYPE_DELETE',
} as const;

export type _agentmesh_v1_AgentChange_Type =
  | 'TYPE_UNSPECIFIED'
  | 0
  /**
   * The agent was added, or its record changed (health, load, spec).
   */
  | 'TYPE_PUT'
  | 1
  /**
   * The agent left the registry; `agent` holds its last known record.
   */
  | 'TYPE_DELETE'
  | 2

export type _agentmesh_v1_AgentChange_Type__Output = typeof _agentmesh_v1_AgentChange_Type[keyof typeof _agentmesh_v1_AgentChange_Type]

export interface AgentChange {
  'type'?: (_agentmesh_v1_AgentChange_Type);
  /**
   * The record after the change (for TYPE_DELETE, the record as it was).
   */
  'agent'?: (_agentmesh_v1_AgentRecord | null);
  /**
   * Why it changed, for people: e.g. "registered", "lease expired", "health check failed", "deregistered".
   */
  'reason'?: (string);
}

export interface AgentChange__Output {
  'type': (_agentmesh_v1_AgentChange_Type__Output);
  /**
   * The record after the change (for TYPE_DELETE, the record as it was).
   */
  'agent': (_agentmesh_v1_AgentRecord__Output | null);
  /**
   * Why it changed, for people: e.g. "registered", "lease expired", "health check failed", "deregistered".
   */
  'reason': (string);
}
