// Original file: /work/main/proto/agentmesh/v1/control_plane.proto

import type { AgentRecord as _agentmesh_v1_AgentRecord, AgentRecord__Output as _agentmesh_v1_AgentRecord__Output } from '../../agentmesh/v1/AgentRecord.js';

export interface Snapshot {
  /**
   * Every registered agent, healthy or not.
   */
  'agents'?: (_agentmesh_v1_AgentRecord)[];
}

export interface Snapshot__Output {
  /**
   * Every registered agent, healthy or not.
   */
  'agents': (_agentmesh_v1_AgentRecord__Output)[];
}
