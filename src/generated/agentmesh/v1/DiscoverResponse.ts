// Original file: proto/agentmesh/v1/control_plane.proto

import type { AgentRecord as _agentmesh_v1_AgentRecord, AgentRecord__Output as _agentmesh_v1_AgentRecord__Output } from '../../agentmesh/v1/AgentRecord.js';
import type { Long } from '@grpc/proto-loader';

export interface DiscoverResponse {
  /**
   * The matching agents, ordered by id.
   */
  'agents'?: (_agentmesh_v1_AgentRecord)[];
  /**
   * The store revision the answer reflects.
   */
  'revision'?: (number | string | Long);
}

export interface DiscoverResponse__Output {
  /**
   * The matching agents, ordered by id.
   */
  'agents': (_agentmesh_v1_AgentRecord__Output)[];
  /**
   * The store revision the answer reflects.
   */
  'revision': (number);
}
